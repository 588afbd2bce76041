"""`make bench`: how fast the connector syncs, as one table whose ratios come from baselines measured in the same run.

A benchmark, not a test: it prints the table (and writes it as Markdown to build/bench.md) with PASS/FAIL lines for
the targets, and exits non-zero only when a measurement itself goes wrong (a run that errs or lands the wrong counts).

1. The extractor alone (fetch + parse + flatten; rows counted, nothing upserted), each run in a fresh process
   (`tools.bench.extract`) so its peak RSS is its own, against the simulator in a separate process: serial
   (concurrency 1) against the default settings, at the given latency and at 0 ms.
2. At 0 ms, the same page bodies parsed and flattened from memory: the most the extractor's CPU work allows.
3. End to end through `fivetran debug` into DuckDB at the given latency: the connector (also serial, in the long
   run) against the emit-only ceiling (`ceiling_connector.py`: the same rows from memory, upserted and checkpointed
   as a sync does, built from the library alone); and three sites of the same total size, against the ceiling fed
   those three sites' pages.
4. The extractor's peak RSS at two site sizes ten times apart.
5. Healthy sites beside as many hanging ones (the API takes the request and never answers) as `concurrency` has
   slots, against the same healthy sites alone: the time until the healthy sites have ended.

By default the sites are just large enough for every target to mean something and each figure is one run (about 3
minutes on a quiet 2-core machine); `--full` is the long run: larger sites, three turns per figure, and the serial
end-to-end run. Runs that are compared take turns, `--repeat` times, so drift on a shared machine hits them alike;
each figure is the fastest of its runs, and the largest peak RSS of them. Never run two at once: the ratios hold
within one run on an otherwise steady machine.

Modules: `options` (the command line), `simulator` (the simulator process and the sites it serves),
`extract` (one extractor run in its own process), `extractor_runs` (sections 1, 2, 4, 5), `end_to_end` (section 3:
staging and timing `fivetran debug`), `ceiling_connector` (the connector section 3 stages as its ceiling), `results`
and `table` (runs, ratios and the Markdown table), `progress` (the lines on stderr while it runs), `sections` (what
each section runs and compares).
"""
