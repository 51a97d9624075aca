# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= ../shared/data

.PHONY: demo test bench bench-compare bench-protect bench-reading bench-attributes bench-all install browser clean

$(STAMP): pyproject.toml requirements/priors-no-deps.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first and pinned: the CPU build; an unpinned torch pulls gigabytes of CUDA wheels.
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[test,priors,nudity,serve,heif,onnx,ray,bench,reading]'
	# Prior providers whose declared dependencies clash (GUI OpenCV, jax): what they import came with [priors].
	$(BIN)/python -m pip install -q --no-deps -r requirements/priors-no-deps.txt
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m privobf.demo --out demo-output

# The web page's browser test drives Debian's Chromium through playwright (no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; \
	  else echo "make test needs Debian's chromium for the browser test: sudo apt-get install chromium"; exit 1; fi; }

test: $(STAMP) browser
	OMP_WAIT_POLICY=PASSIVE PRIVOBF_REQUIRE_PRIORS=1 PRIVOBF_REQUIRE_BROWSER=1 PRIVOBF_DATA=$(DATA) $(BIN)/python -m pytest -q

bench: $(STAMP)
	PRIVOBF_DATA=$(DATA) $(BIN)/python benchmarks/run.py

# privobf against deface and an OCR-only redactor, same photos, one run (docs/performance.md).
bench-compare: $(STAMP)
	PRIVOBF_DATA=$(DATA) $(BIN)/python benchmarks/compare.py

# What `privobf obfuscate --hide face|people|plates` leaves visible on photos with human ground truth, next to
# the single detectors it runs (issue 17); add ARGS="--limit 4" etc. for a quick run.
bench-protect: $(STAMP)
	PRIVOBF_DATA=$(DATA) $(BIN)/python benchmarks/protect.py --with-centerface-alone $(ARGS)

# What reading leaves readable (issue 18): SROIE receipts, and 60 generated document photos (seed 0; seed 1 is the
# calibration set, benchmarks/results/reading_documents_calibration.json).
DOCUMENT_PHOTOS := $(or $(TMPDIR),/tmp)/privobf-document-photos
bench-reading: $(STAMP)
	PRIVOBF_DATA=$(DATA) $(BIN)/python benchmarks/reading_receipts.py --split all $(ARGS)
	rm -rf $(DOCUMENT_PHOTOS) && $(BIN)/python benchmarks/document_photos.py --out $(DOCUMENT_PHOTOS) --count 60 --seed 0
	PRIVOBF_DATA=$(DATA) $(BIN)/python benchmarks/reading_documents.py --photos $(DOCUMENT_PHOTOS) --tools privobf,all-text,presidio

# Where each VISPR attribute comes from (issue 19): VISPR's label statistics (train -> the shipped table, val ->
# the check), the document / screen types on generated photos (seeds 0 and 2), SROIE and COCO128 scenes, and the
# privacy score of held-out synthetic document scenes before and after the model learnt those types.
DOCUMENT_PHOTOS_2 := $(or $(TMPDIR),/tmp)/privobf-document-photos-seed2
# The embedded model before it was taught the document and screen types (design decision 51), for the
# privacy score's before / after on held-out document scenes.
BASE_COMMIT := 3fedd63
BASE_MODEL := $(or $(TMPDIR),/tmp)/privobf-base-model.safetensors
bench-attributes: $(STAMP)
	PRIVOBF_DATA=$(DATA) $(BIN)/python benchmarks/appearance_statistics.py
	rm -rf $(DOCUMENT_PHOTOS) && $(BIN)/python benchmarks/document_photos.py --out $(DOCUMENT_PHOTOS) --count 60 --seed 0
	rm -rf $(DOCUMENT_PHOTOS_2) && $(BIN)/python benchmarks/document_photos.py --out $(DOCUMENT_PHOTOS_2) --count 60 --seed 2
	PRIVOBF_DATA=$(DATA) $(BIN)/python benchmarks/document_types.py --photos $(DOCUMENT_PHOTOS) --photos $(DOCUMENT_PHOTOS_2) --receipts all --scenes 40 --document-scenes 100
	git show $(BASE_COMMIT):src/privobf/weights/default.safetensors > $(BASE_MODEL)
	PRIVOBF_DATA=$(DATA) $(BIN)/python benchmarks/document_privacy.py --scenes 300 --before $(BASE_MODEL)
	PRIVOBF_DATA=$(DATA) $(BIN)/python benchmarks/document_masks.py --scenes 200

# Everything docs/performance.md quotes; the 10,000-photo memory run with priors alone takes ~50 minutes on 2 cores.
bench-all: bench bench-compare
	PRIVOBF_DATA=$(DATA) $(BIN)/python benchmarks/inference_speed.py
	PRIVOBF_DATA=$(DATA) $(BIN)/python benchmarks/cam_throughput.py
	PRIVOBF_DATA=$(DATA) $(BIN)/python benchmarks/batch_cli.py
	PRIVOBF_DATA=$(DATA) $(BIN)/python benchmarks/memory.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache
