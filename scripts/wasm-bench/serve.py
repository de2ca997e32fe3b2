"""The harness server of scripts/bench-wasm: serves one folder (WebAssembly as application/wasm) and
writes the JSON the page posts to /result into the file given, then stops."""

import functools
import http.server
import sys


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".wasm": "application/wasm",
        ".js": "text/javascript",
        ".jws": "text/plain",
        ".pem": "text/plain",
    }

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        with open(self.server.result_path, "wb") as out:
            out.write(self.rfile.read(length))
        self.send_response(204)
        self.end_headers()
        self.server.done = True

    def log_message(self, *args):
        pass


def main():
    folder, port_file, result_path = sys.argv[1:4]
    handler = functools.partial(Handler, directory=folder)
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    server.result_path = result_path
    server.done = False
    with open(port_file, "w") as out:
        out.write(str(server.server_address[1]))
    while not server.done:
        server.handle_request()


main()
