# One image for every pdfq process; `python -m infra.run <name>` runs that Procfile line,
# so containers run exactly what Heroku runs. docker-compose.yml wires the whole stack.
# The command is whole, with no ENTRYPOINT in front: a platform's command (Compose's
# `command`, Render's `dockerCommand`) replaces CMD and would keep an ENTRYPOINT, so each
# names the full `python -m infra.run worker` and runs it as written.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=8000

WORKDIR /app
# OCR: Tesseract's language data from Debian (the tesserocr wheel carries Tesseract itself);
# nothing is downloaded at run time. docs/ocr.md.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng tesseract-ocr-deu \
    && rm -rf /var/lib/apt/lists/*
# Requirements first: the dependency layer is rebuilt only when they change. Runtime only
# (no moto): requirements.txt pins them to requirements.lock, the set CI tested.
COPY requirements.txt requirements.lock ./
RUN pip install -r requirements.txt

COPY . .
# Not root: a parser bug in a hostile PDF should not own the container.
RUN useradd --system --create-home pdfq && mkdir -p .pdfq-data && chown pdfq .pdfq-data
USER pdfq

EXPOSE 8000
CMD ["python", "-m", "infra.run", "web"]
