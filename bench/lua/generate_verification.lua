-- POST /api/generate-verification: a durable write per request.
wrk.method = "POST"
wrk.headers["X-SDK-Key"] = os.getenv("QRSTREAM_BENCH_SDK_KEY")
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"extra_data": {"customer": "bench", "order": 42}}'
