#!/usr/bin/env bash
# Install Tesseract's English and German data from Debian/Ubuntu packages, once. OCR in
# pdfq needs only these data files (the tesserocr wheel carries Tesseract itself); nothing is
# downloaded at run time. Without root or passwordless sudo it only says what to run.
set -euo pipefail
PACKAGES="tesseract-ocr tesseract-ocr-eng tesseract-ocr-deu"
if ls /usr/share/tesseract-ocr/*/tessdata/eng.traineddata /usr/share/tesseract-ocr/*/tessdata/deu.traineddata >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO="sudo"
else
  echo "OCR is off until Tesseract is installed: sudo apt-get install $PACKAGES (docs/ocr.md)" >&2
  exit 0
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
