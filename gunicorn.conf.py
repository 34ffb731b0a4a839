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
# gunicorn's own lines in LOG_FORMAT (JSON by default) like the app's; access lines become
# fields (method, path, status, duration) with the job id, and never the query string.
logger_class = "functions.weblog.GunicornLogger"
# A platform (dyno, container, supervisor) manages the processes by signals; gunicorn's
# control socket would only add a local control surface, at a path every gunicorn on the
# machine shares by default ($HOME/.gunicorn/gunicorn.ctl).
control_socket_disable = True


def on_starting(server):
    """Refuse to start in production without API tokens; shout when running open."""
    from core.settings import settings_or_exit
    from functions.auth import startup_check

    problem, warning = startup_check(settings_or_exit())
    if problem:
        server.log.error(problem)  # in LOG_FORMAT, like every other line
        raise SystemExit(2)
    if warning:
        server.log.warning(warning)
