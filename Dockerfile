# The full editor's third-party frontend (Label Studio's open-source editor, Apache-2.0), from
# the exact versions and integrity hashes of frontend/package-lock.json, as scripts/install.sh does.
FROM node:20-slim AS editor
WORKDIR /frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md requirements.lock ./
# The locked versions (hashes checked), then Kazi itself without resolving anything again.
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY engine engine
COPY workers workers
COPY schemas schemas
COPY configs configs
COPY --from=editor /frontend/node_modules/@heartexlabs/label-studio/build/static/js/main.js \
     /frontend/node_modules/@heartexlabs/label-studio/build/static/js/main.js.LICENSE.txt \
     /frontend/node_modules/@heartexlabs/label-studio/build/static/css/main.css \
     /frontend/node_modules/@heartexlabs/label-studio/LICENSE \
     engine/worker_app/static/vendor/lsf/
RUN pip install --no-cache-dir --no-deps .
ENV KAZI_VAR_DIR=/var/lib/kazi
CMD ["kazi", "serve", "--host", "0.0.0.0"]
