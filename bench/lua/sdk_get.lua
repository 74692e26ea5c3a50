-- GET with the SDK key header (verification endpoints); the key comes from the environment.
wrk.method = "GET"
wrk.headers["X-SDK-Key"] = os.getenv("QRSTREAM_BENCH_SDK_KEY")
