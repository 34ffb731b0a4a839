"""The baseline web app for the presign benchmark: Flask answering JSON, nothing else."""

from flask import Flask, request


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/api/v1/pdf/bare")
    def bare():
        body = request.get_json(force=True, silent=True) or {}
        return {"ok": True, "filename": body.get("filename")}, 201

    @app.get("/api/v1/pdf/health")
    def health():
        return {"status": "ok"}

    return app
