"""Serve a local causal LM folder with `transformers serve` on 127.0.0.1: `python serve_smollm2.py MODEL_DIR PORT`.

Started in-process rather than through the `transformers` command, whose argument parser fails with this
machine's huggingface_hub (an "Unsupported CLI annotation" TypeError). transformers 5.3's serve module annotates
its routes with a `Request` it imports inside a function under `from __future__ import annotations`, which FastAPI
cannot resolve: the name is put in the module's globals first.
"""

from __future__ import annotations

import sys


def main(model_dir: str, port: int) -> None:
    import fastapi
    import transformers.cli.serve as serve

    serve.Request = fastapi.Request
    serve.Serve(host="127.0.0.1", port=port, force_model=model_dir, device="cpu", log_level="warning", default_seed=0)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
