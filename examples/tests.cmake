# The examples' ctests: one goro_example_test() per example (the function is
# defined in examples/CMakeLists.txt). A test passes when the example exits
# with 0 and its output (stdout and stderr together) matches the regex.
#
# The regexes are meant to fail on wrong output: exact sums, primes and
# totals wherever the output is deterministic; for the timing-dependent
# examples, the lines the program computes and checks itself. (CMake regexes
# have no {n} repetition; "\\(" in a CMake string is the regex "\(".)

# main sleeps a second, so the goroutine prints first (see hello.cpp).
goro_example_test(hello PASS_REGULAR_EXPRESSION "^Hello Goroutine\nmain function ended\n$")

goro_example_test(ping_pong ARGS 1000
  PASS_REGULAR_EXPRESSION "^ping-pong: 1000 round trips, 2000 hits\n$")

# 112 primes of the form k*k+1 for k <= 1000, summing to 29570385.
goro_example_test(pipeline ARGS 1000
  PASS_REGULAR_EXPRESSION "^primes of the form k\\*k\\+1 for k in 1\\.\\.1000: 112, sum 29570385\n$")

# The 25 primes below 100, in order, and nothing else.
goro_example_test(prime_sieve ARGS 25
  PASS_REGULAR_EXPRESSION "^2\n3\n5\n7\n11\n13\n17\n19\n23\n29\n31\n37\n41\n43\n47\n53\n59\n61\n67\n71\n73\n79\n83\n89\n97\n$")

goro_example_test(worker_pool ARGS 12 3
  PASS_REGULAR_EXPRESSION "^job 1 -> 1\njob 2 -> 4\njob 3 -> 9\njob 4 -> 16\njob 5 -> 25\njob 6 -> 36\njob 7 -> 49\njob 8 -> 64\njob 9 -> 81\njob 10 -> 100\njob 11 -> 121\njob 12 -> 144\n12 results from 3 workers, at most [1-3] jobs ran at once \\(limit 3\\)\nbounded: ok\n$")

# How many values arrive depends on timing; the slow producer makes neither
# deadline, so the summary lines are stable.
goro_example_test(fan_in_timeout ARGS 200
  PASS_REGULAR_EXPRESSION "^fast 1\n.*timed out after 200 ms: fast=[1-9][0-9]* medium=[0-9]+ slow=0\nslow: no value within 50 ms \\(timeout\\)\nall producers stopped\n$")

# The program checks the limit itself (request k never before k periods).
goro_example_test(rate_limit ARGS 50
  PASS_REGULAR_EXPRESSION "^request 1 at [0-9]+ ms\nrequest 2 at [0-9]+ ms\nrequest 3 at [0-9]+ ms\nrequest 4 at [0-9]+ ms\nrequest 5 at [0-9]+ ms\nsteady: 5 requests, smallest gap [0-9]+ ms, limit held: yes\nbursty request 1 at [0-9]+ ms\nbursty request 2 at [0-9]+ ms\nbursty request 3 at [0-9]+ ms\nbursty request 4 at [0-9]+ ms\nbursty request 5 at [0-9]+ ms\nbursty: 5 requests, bucket of 3, limit held: yes\n$")

# --self-signal: the program sends itself SIGINT, so the test goes through the
# real sigwait() path rather than the timer.
goro_example_test(graceful_shutdown ARGS --self-signal
  PASS_REGULAR_EXPRESSION "^shutdown: SIGINT\n(worker [1-3] stopped after [0-9]+ jobs\n)+jobs: [0-9]+ produced, [0-9]+ finished, [0-9]+ never started\nevery job accounted for\nall workers stopped\n$")

# The same checksum on every machine: the input comes from a fixed-seed LCG.
goro_example_test(merge_sort ARGS 1000000
  PASS_REGULAR_EXPRESSION "^sorted 1000000 ints in [0-9]+ ms: ok\nmin 878, max 2147476767, checksum 2c024a2cc6d118ef\n$")

# Over a fixture of 5 text files and 1 binary one (testdata/word_count); the
# totals and top words were counted independently, with a regex in Python.
# Progress lines, if any, go to stderr before these.
goro_example_test(word_count ARGS "${CMAKE_CURRENT_SOURCE_DIR}/testdata/word_count"
  PASS_REGULAR_EXPRESSION "files: 5 \\(skipped: 1 binary, 0 unreadable\\)\nwords: 59 \\(distinct: 37\\)\n      8 the\n      5 channel\n      4 fox\n      3 dog\n      3 go\n      2 and\n      2 by\n      2 memory\n      2 runs\n      1 1\n$")

# Fixed latencies; every answer due well inside its deadline (or seconds
# after it), so the same lines on every run; the program itself checks that
# no backend goroutine outlives its search.
goro_example_test(google_search
  PASS_REGULAR_EXPRESSION "^Google Search 2\\.0: all backends at once\n  web    web result for \"goro\"\n  image  image result for \"goro\"\n  video  video result for \"goro\"\nGoogle Search 2\\.1: with a 300 ms deadline\n  web    web result for \"goro\"\n  image  image result for \"goro\"\n  video  \\(timed out\\)\nGoogle Search 3\\.0: three replicas each, first answer wins, 300 ms deadline\n  web    web result for \"goro\" \\(replica 2\\)\n  image  image result for \"goro\" \\(replica 3\\)\n  video  video result for \"goro\" \\(replica 1\\)\ngoroutines left running: 0\n$")

# Over testdata/checksum (6 files, one empty); the FNV-1a sums were computed
# independently, in Python. The second run fails reading one file on purpose:
# the group stops and wait() rethrows that failure, not the cancellations.
goro_example_test(checksum_tree ARGS "${CMAKE_CURRENT_SOURCE_DIR}/testdata/checksum" --workers 2 --fail-on src/util/strings.go
  PASS_REGULAR_EXPRESSION "^0c21f8c093ecaab4   114  README\\.txt\ncbf29ce484222325     0  docs/empty\\.txt\ndc1aac4426218370    70  docs/notes\\.md\nab7f7a15cf063907    72  src/main\\.go\n691f27a4dbaa7afd    24  src/util/numbers\\.txt\n613ae6ab07ffd3fc   120  src/util/strings\\.go\n6 files, 400 bytes, 2 workers\nagain, with reading src/util/strings\\.go failing:\nerror: src/util/strings\\.go: injected read failure\n$")

# The network examples run their server on 127.0.0.1 port 0 and their clients
# in the same process; every check is made by the program itself, the
# byte counts follow from the message lengths, so the summaries are exact.
goro_example_test(echo_server ARGS --self-test 50 100
  PASS_REGULAR_EXPRESSION "^echo: 50 clients x 100 round trips: 5000 intact\nserver: echoed 162368 bytes \\(expected 162368\\)\nlistener closed, accept loop returned\nok\n$")

goro_example_test(chat ARGS --self-test 5 10
  PASS_REGULAR_EXPRESSION "^chat: 5 clients, 10 messages each\nevery client got all 50 messages: yes\nall clients saw one order: yes\nok\n$")

goro_example_test(http_server ARGS --self-test
  PASS_REGULAR_EXPRESSION "^GET / -> 200 Hello, World!\nGET /missing -> 404 404 page not found\npipelined GET / -> 200 Hello, World!\npipelined GET /a -> 404 404 page not found\npipelined HEAD / -> 200\nGET / in 4 pieces -> 200 Hello, World!\nPOST / with a body -> 405 405 method not allowed\nGET / with Connection: close -> 200 Hello, World! \\(Connection: close\\)\nserver closed the connection: yes\n8 responses over one connection\nok\n$")

# Client 1 waits for its 5 steps; client 2 asks for 500 (10 s) and hangs up
# after 200 ms. How many steps ran before the hang-up depends on timing; the
# program checks that the work stopped early, with canceled, within 5 s.
goro_example_test(cancel_on_disconnect ARGS --self-test
  PASS_REGULAR_EXPRESSION "^server: work 5 finished all 5 steps, answering\nclient 1: asked for 5 steps, waited, got \"done 5 steps\"\nclient 2: asked for 500 steps, hung up\nserver: work 500 cancelled after [0-9]+ steps \\(client gone: yes\\), err\\(\\) = context canceled\nwork stopped early, with err\\(\\) == canceled: yes\nwork stopped within 5 s of the hang-up: yes\ngoroutines left running: 0\nok\n$")

# redis_server is driven by the real redis-cli (Debian's redis-tools, which
# tools/dev installs): redis_cli_test.sh starts it on a free port, checks
# PING, SET/GET/INCR/DEL/EXISTS/ECHO, errors, commands on stdin, 2000
# pipelined commands through `redis-cli --pipe` and inline commands, then
# stops it by its pid. Skipped (exit 77) only where redis-cli is missing.
find_program(GORO_BASH bash)
if(GORO_BASH)
  set(_test "${GORO_TEST_PREFIX}example.redis_server")
  add_test(NAME "${_test}"
    COMMAND "${GORO_BASH}" "${CMAKE_CURRENT_SOURCE_DIR}/redis_cli_test.sh"
      "${_goro_example_exe_redis_server}")
  goro_test_properties("${_test}" LABELS example TIMEOUT 120)
  set_tests_properties("${_test}" PROPERTIES SKIP_RETURN_CODE 77
    PASS_REGULAR_EXPRESSION "redis-cli: 20 checks passed\n")
else()
  message(STATUS "goro examples: no bash; the redis_server test (redis-cli) is not registered")
endif()
