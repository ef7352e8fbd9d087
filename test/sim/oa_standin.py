"""An OA Public API stand-in written with CPython's own XML-RPC library, independent of the
`xmlrpc` npm package that both our client and the Node simulator use. It answers the two methods
the tool calls by asking the simulator's OA (so the APS controller accepts the tokens it hands out),
and re-encodes every reply with CPython's marshaller: a second, independent reading of the wire.

    python3 oa_standin.py http://127.0.0.1:<sim OA port>/RPC2
prints the port it listens on, then serves until killed.
"""
import sys
import xmlrpc.client
from xmlrpc.server import SimpleXMLRPCRequestHandler, SimpleXMLRPCServer


class Handler(SimpleXMLRPCRequestHandler):
    rpc_paths = ("/RPC2",)

    def log_message(self, *args):
        pass


def main():
    upstream = xmlrpc.client.ServerProxy(sys.argv[1])
    server = SimpleXMLRPCServer(("127.0.0.1", 0), requestHandler=Handler, logRequests=False, allow_none=False)

    def forward(method):
        def call(args):
            reply = getattr(upstream, method)(args)
            # Rebuild the reply from plain Python values so nothing of the upstream encoding survives.
            return {key: value for key, value in reply.items()}
        return call

    server.register_function(forward("pem.APS.getApplicationInstances"), "pem.APS.getApplicationInstances")
    server.register_function(forward("pem.APS.getApplicationInstanceToken"), "pem.APS.getApplicationInstanceToken")
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
