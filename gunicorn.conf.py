"""gunicorn settings for the web process; each says why it is set.

gunicorn itself binds 0.0.0.0:$PORT when PORT is set (Heroku, Render; 127.0.0.1:8000
otherwise) and starts $WEB_CONCURRENCY worker processes, so neither is repeated here.
"""

# Uploads spool to disk and stream to S3: threads keep a worker responsive meanwhile.
worker_class = "gthread"
threads = 4
# Large uploads on slow links take a while; the platform's router has its own limit.
timeout = 120
# Finish in-flight requests before the platform's SIGKILL, 30 s after SIGTERM.
graceful_timeout = 25
# Request lines to stdout, errors to stderr: the platform collects both.
accesslog = "-"
errorlog = "-"
# Keep-alive behind a router that reuses connections.
keepalive = 5
