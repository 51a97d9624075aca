"""Every built-in prior provider loads and runs with the network blocked, and never tries to connect."""

import json
import os
import subprocess
import sys
import textwrap

BUILT_IN = {"rapidocr", "mediapipe-person", "centerface", "mediapipe-face", "haar-plate", "nudenet"}
SCRIPT = textwrap.dedent(
    """
    import json, sys
    attempts = []

    def refuse_network(event, args):
        if event in ("socket.connect", "socket.getaddrinfo", "urllib.Request"):
            attempts.append(f"{event} {args!r}"[:200])
            raise ConnectionRefusedError(f"network blocked in this test: {event}")

    sys.addaudithook(refuse_network)
    import numpy as np
    from skimage.data import astronaut
    from privobf.priors import create_provider, list_providers

    image = astronaut()
    found = {}
    for name in list_providers():
        result = create_provider(name)(image)
        found[name] = {"shape": list(result.mask.shape), "boxes": len(result.boxes), "max": float(result.mask.max())}
    provider_attempts = list(attempts)
    try:  # the guard itself must work: a deliberate download is caught
        import urllib.request
        urllib.request.urlopen("http://example.com/model.onnx", timeout=2)
    except Exception:
        pass
    print(json.dumps({"found": found, "attempts": provider_attempts, "probe_caught": len(attempts) > len(provider_attempts)}))
    """
)


def test_every_provider_runs_offline_without_network_attempts(tmp_path):
    blocked = {
        **os.environ,
        "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
        "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
        "HF_HUB_OFFLINE": "1", "NO_PROXY": "", "HOME": str(tmp_path),  # no user cache to lean on
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    run = subprocess.run([sys.executable, "-c", SCRIPT], env=blocked, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    outcome = json.loads(run.stdout.strip().splitlines()[-1])
    assert outcome["probe_caught"] and outcome["attempts"] == []
    assert BUILT_IN <= set(outcome["found"])
    for name, found in outcome["found"].items():
        assert found["shape"] == [512, 512], name
    assert outcome["found"]["centerface"]["boxes"] == 1 and outcome["found"]["mediapipe-face"]["boxes"] == 1
    assert outcome["found"]["mediapipe-person"]["max"] > 0.5
