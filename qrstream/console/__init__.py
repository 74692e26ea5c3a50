"""The operator console: its page, the admin event stream that keeps it live, and the stream's tickets.

The lists it shows belong to each family (`GET /admin/instances`, `/admin/cards`,
`/admin/verifications`); what happens in them reaches the console through the bus topic of
`qrstream.admin_events`, which every family publishes to.
"""
