"""Serves ONNX models through a real Triton Inference Server (PyPI nvidia-pytriton, CPU) on
127.0.0.1, for the Triton client's tests and benchmark.

Each `--model NAME=PATH` becomes a Triton model NAME whose inputs and outputs are the ONNX file's
(batch dimension dynamic, up to --max-batch), computed by ONNX Runtime on CPU inside Triton's
Python backend. Prints `READY <grpc-port>` once the server is ready, then serves until killed.

    .venv-triton/bin/python tests/triton/serve.py --grpc-port 8001 \
        --model pose=tests/models/pose_analytic_coco17.onnx
"""
import argparse
import pathlib
import signal
import socket
import sys
import time

import numpy as np
import onnxruntime as ort
from pytriton.decorators import batch
from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
from pytriton.triton import Triton, TritonConfig

ONNX_TO_NUMPY = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
}


def serve_function(session, sleep_s, fp16_io):
    outputs = [o.name for o in session.get_outputs()]

    @batch
    def infer(**inputs):
        if sleep_s:
            time.sleep(sleep_s)
        if fp16_io:
            inputs = {k: v.astype(np.float32) if v.dtype == np.float16 else v for k, v in inputs.items()}
        results = session.run(outputs, inputs)
        if fp16_io:
            results = [r.astype(np.float16) if r.dtype == np.float32 else r for r in results]
        return dict(zip(outputs, results))

    return infer


def wire_dtype(onnx_type, fp16_io):
    dtype = ONNX_TO_NUMPY[onnx_type]
    return np.float16 if fp16_io and dtype == np.float32 else dtype


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tensors(values, fp16_io):
    return [Tensor(name=v.name, dtype=wire_dtype(v.type, fp16_io), shape=tuple(v.shape[1:])) for v in values]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True, metavar="NAME=PATH")
    p.add_argument("--grpc-port", type=int, required=True)
    p.add_argument("--http-port", type=int, default=0, help="0: a free port")
    p.add_argument("--metrics-port", type=int, default=0, help="0: a free port")
    p.add_argument("--max-batch", type=int, default=8)
    p.add_argument("--instances", type=int, default=1, help="model instances (concurrent requests)")
    p.add_argument("--sleep-ms", type=float, default=0.0, help="added to every request (deadline tests)")
    p.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads per instance")
    p.add_argument("--workspace", help="Triton's model store and sockets (default: a new folder in ~/.cache/pytriton, left behind when killed)")
    p.add_argument("--fp16-io", action="store_true", help="declare float tensors FP16 on the wire (the model still runs in fp32)")
    args = p.parse_args()

    config = TritonConfig(
        grpc_address="127.0.0.1",
        grpc_port=args.grpc_port,
        http_address="127.0.0.1",
        http_port=args.http_port or free_port(),
        metrics_address="127.0.0.1",
        metrics_port=args.metrics_port or free_port(),
        allow_gpu_metrics=False,
        exit_on_error=True,
    )
    with Triton(config=config, workspace=args.workspace) as triton:
        for spec in args.model:
            name, _, path = spec.partition("=")
            if not path or not pathlib.Path(path).is_file():
                sys.exit(f"--model {spec}: expected NAME=PATH to an ONNX file")
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = args.threads
            funcs = []
            for _ in range(args.instances):
                session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
                funcs.append(serve_function(session, args.sleep_ms / 1000.0, args.fp16_io))
            triton.bind(
                model_name=name,
                infer_func=funcs if len(funcs) > 1 else funcs[0],
                inputs=tensors(session.get_inputs(), args.fp16_io),
                outputs=tensors(session.get_outputs(), args.fp16_io),
                config=ModelConfig(max_batch_size=args.max_batch, batcher=DynamicBatcher()),
            )
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        triton.run()
        print(f"READY {args.grpc_port}", flush=True)
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    main()
