"""`privobf serve`: the command-line side of the web page (arguments, scanner, uvicorn).

The server binds its socket itself before handing it to uvicorn, so "port already in use" is one clear
line instead of a uvicorn log, and tests can ask for port 0 and read back the port they got.
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
EXIT_OK, EXIT_USAGE = 0, 2


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `privobf serve`; cli.py calls this on the subcommand's parser."""
    from ..priors.options import add_prior_arguments

    parser.add_argument("--host", default="127.0.0.1", help=(
        "address to listen on (default: %(default)s, this computer only; another address lets anyone on "
        "your network upload photos)"))
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (default: %(default)s)")
    parser.add_argument("--model", help="model file (.safetensors) from `privobf train`; default: the embedded model")
    parser.add_argument("--segmentation", metavar="SEG.safetensors", help=(
        "take the masks from this segmentation network (from `privobf train-seg`), as `privobf scan --segmentation`"))
    parser.add_argument("--segmentation-threshold", type=float, default=None, metavar="P", help=(
        "with --segmentation: probability from which a pixel is inside a mask the network gives (default 0.5)"))
    add_prior_arguments(parser)
    parser.add_argument("--max-upload-mb", type=float, default=25.0, help=(
        "largest photo file accepted, in MB (default: %(default)g)"))
    parser.add_argument("--max-megapixels", type=float, default=40.0, help=(
        "largest photo accepted, in megapixels, checked before decoding (default: %(default)g)"))


def is_loopback(host: str) -> bool:
    """True for addresses only this computer can reach."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port); OSError with a one-line reason when that is impossible."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(64)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def page_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    shown = f"[{shown}]" if ":" in shown and not shown.startswith("[") else shown
    return f"http://{shown}:{port}/"


def build_app(args: argparse.Namespace) -> "FastAPI":
    """The app for parsed `serve` arguments; ValueError / CheckpointError with a readable message."""
    from ..priors.options import prior_set_from_arguments
    from ..scanning import Scanner
    from ..segmentation.mask_source import mask_source_from_arguments
    from .app import create_app

    if args.max_upload_mb <= 0 or args.max_megapixels <= 0:
        raise ValueError("--max-upload-mb and --max-megapixels must be positive")
    scanner = Scanner(args.model, prior_set=prior_set_from_arguments(args))
    scanner.segmentation = mask_source_from_arguments(args, scanner.model)
    allowed_hosts = list(LOOPBACK_NAMES) if is_loopback(args.host) else None
    return create_app(
        scanner,
        max_upload_bytes=int(args.max_upload_mb * 1e6),
        max_pixels=int(args.max_megapixels * 1e6),
        allowed_hosts=allowed_hosts,
    )


def run_serve(args: argparse.Namespace) -> int:
    """Build the scanner, bind the port and serve until Ctrl+C; exit status like the other commands."""
    try:
        import uvicorn
    except ImportError:
        print("privobf: error: `privobf serve` needs the serve extra: pip install 'privobf[serve]'", file=sys.stderr)
        return EXIT_USAGE
    try:
        app = build_app(args)
    except (ImportError, KeyError, ValueError, OSError) as error:
        print(f"privobf: error: {str(error).strip(chr(39) + chr(34))}", file=sys.stderr)
        return EXIT_USAGE
    try:
        sock = bind_socket(args.host, args.port)
    except OSError as error:
        print(f"privobf: error: cannot listen on {args.host}:{args.port} ({error.strerror or error}); "
              "choose another --port", file=sys.stderr)
        return EXIT_USAGE
    if not is_loopback(args.host):
        print(f"privobf: warning: listening on {args.host}: anyone on your network can upload photos to this "
              "page; use --host 127.0.0.1 to keep it to this computer", file=sys.stderr)
    print(f"privobf: open {page_url(args.host, sock.getsockname()[1])} in your browser (Ctrl+C to stop)", file=sys.stderr)
    config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return EXIT_OK
