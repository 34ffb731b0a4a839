"""gunicorn settings for the web process; each says why it is set.

gunicorn itself binds 0.0.0.0:$PORT when PORT is set (Heroku, Render; 127.0.0.1:8000
otherwise); `make run` binds 127.0.0.1 through GUNICORN_CMD_ARGS, which outranks this file.
"""

from core.settings import settings_or_exit

_settings = settings_or_exit()

# WEB_CONCURRENCY (core/settings.py, default 2): gunicorn's own default would be 1.
workers = _settings.web_concurrency
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
# Longer than the routers keep an idle connection to the app open (Heroku's router: 90 s;
# Render's and AWS load balancers' are shorter). If gunicorn closed first, a request the
# router sends down that connection at the same moment would fail with a 502.
keepalive = 95
# X-Forwarded-For/-Proto are believed from the platform's router only, by hop count
# (PROXY_HOPS; functions/headers.py); gunicorn itself trusts no forwarded header, since on
# a platform every connection comes from the router's changing addresses.
forwarded_allow_ips = ""
# gunicorn's own lines in LOG_FORMAT (JSON by default) like the app's; access lines become
# fields (method, path, status, duration) with the job id, and never the query string.
logger_class = "functions.weblog.GunicornLogger"
# A platform (dyno, container, supervisor) manages the processes by signals; gunicorn's
# control socket would only add a local control surface, at a path every gunicorn on the
# machine shares by default ($HOME/.gunicorn/gunicorn.ctl).
control_socket_disable = True


def on_starting(server):
    """Refuse to start in production without API tokens; shout when running open."""
    from functions.auth import startup_check

    problem, warning = startup_check(_settings)
    if problem:
        server.log.error(problem)  # in LOG_FORMAT, like every other line
        raise SystemExit(2)
    if warning:
        server.log.warning(warning)
