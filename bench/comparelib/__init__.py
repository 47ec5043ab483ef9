"""bench/compare as a package: Meridian side by side with Redis, nginx and etcd.

The entry point is bench/compare (its docstring is the --help text). One concept per module:

  cli          flags, defaults and their validation (before anything is started or installed)
  common       failures, progress lines, shell quoting, loopback HTTP requests
  install      the Debian packages, only those missing, with the policy-rc.d guard
  processes    supervision: start on free ports, readiness deadlines, tool time limits, stop
               exactly the pids started (SIGTERM, SIGKILL after 15 s), signals, peak RSS
  context      one run: paths, options, versions and the derived parameters
  parse        pure parsers of the tools' output (redis-benchmark, wrk, meridian bench, ...)
  meridian     Meridian nodes and clusters, bucket properties, `meridian bench` runs
  etcd         a three-member etcd cluster and its leader
  resp, http_section, cluster, strong, memory
               the sections: what each runs per system and round, and its configs.md text
  results      raw/*.tsv bookkeeping, medians over rounds, ratios, goals, results.json/md
  main         the run: setup, install, checks, rounds with alternating systems, report, cleanup
"""
