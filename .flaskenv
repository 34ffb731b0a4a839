# Read by the `flask` command (python-dotenv): `flask pdf ...` needs no --app. Settings go in
# .env (docs/configuration.md), never here.
FLASK_APP=functions
