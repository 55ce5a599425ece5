#!/usr/bin/python3
"""A small CRI v1 client for veil's tests and benchmarks: Debian has no
crictl, but it has python3-grpcio, python3-protobuf and protoc. The messages
come from runtime_subset.proto beside this file, compiled with protoc at
first use into $CRI_PY_CACHE (a directory the caller owns).

    cri.py SOCKET METHOD [JSON]

calls METHOD (RuntimeService's or ImageService's) on containerd's socket with
the request given as JSON (protobuf's JSON mapping, field names as in the
.proto) and prints the response as JSON; ExecSync's stdout and stderr are
printed as text. A gRPC error goes to stderr as "CODE: details", exit 1.
"""
import importlib
import json
import os
import subprocess
import sys
import tempfile

import grpc
from google.protobuf import json_format

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO = "runtime_subset.proto"


def _messages():
    cache = os.environ.get("CRI_PY_CACHE")
    if not cache:
        sys.exit("cri.py: set CRI_PY_CACHE to a directory for the generated code")
    os.makedirs(cache, exist_ok=True)
    module = os.path.join(cache, "runtime_subset_pb2.py")
    if not os.path.exists(module):
        # Generated elsewhere and renamed in: a concurrent caller never imports half a file.
        tmp = tempfile.mkdtemp(dir=cache)
        subprocess.run(["protoc", "--proto_path", HERE, "--python_out", tmp, PROTO], check=True)
        os.rename(os.path.join(tmp, "runtime_subset_pb2.py"), module)
        os.rmdir(tmp)
    sys.path.insert(0, cache)
    return importlib.import_module("runtime_subset_pb2")


class Client:
    """One channel to containerd's CRI; call(method, dict) returns a dict."""

    def __init__(self, socket):
        self.pb = _messages()
        self.channel = grpc.insecure_channel("unix://" + socket)
        self.methods = {}
        for service in self.pb.DESCRIPTOR.services_by_name.values():
            for m in service.methods:
                self.methods[m.name] = (service.full_name, m)

    def call(self, method, request=None, timeout=600):
        if method not in self.methods:
            raise KeyError("no method %s in %s" % (method, PROTO))
        service, m = self.methods[method]
        req_type = getattr(self.pb, m.input_type.name)
        resp_type = getattr(self.pb, m.output_type.name)
        req = json_format.ParseDict(request or {}, req_type())
        stub = self.channel.unary_unary("/%s/%s" % (service, method),
                                        request_serializer=req_type.SerializeToString,
                                        response_deserializer=resp_type.FromString)
        resp = stub(req, timeout=timeout)
        out = json_format.MessageToDict(resp, preserving_proto_field_name=True)
        if method == "ExecSync":
            out["stdout"] = resp.stdout.decode("utf-8", "replace")
            out["stderr"] = resp.stderr.decode("utf-8", "replace")
            out["exit_code"] = resp.exit_code
        return out


def main(argv):
    if len(argv) not in (3, 4):
        sys.exit(__doc__)
    client = Client(argv[1])
    try:
        out = client.call(argv[2], json.loads(argv[3]) if len(argv) == 4 else None)
    except grpc.RpcError as e:
        print("%s: %s" % (e.code().name, e.details()), file=sys.stderr)
        return 1
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
