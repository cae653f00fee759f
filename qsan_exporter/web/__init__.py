"""HTTP edge: routes (/, /metrics, /probe, /-/*), the bounded server, TLS, basic auth,
web-config parsing, the status page and the debug view. Nothing here polls an array."""
