# Runs one libFuzzer target for $ENV{SCMOE_FUZZ_SECONDS} seconds (default 60) from ctest. New inputs go to
# a corpus in the build folder, seeded from the checked-in corpus; crashes are written to the build folder.
if(DEFINED ENV{SCMOE_FUZZ_SECONDS})
  set(seconds $ENV{SCMOE_FUZZ_SECONDS})
else()
  set(seconds 60)
endif()
file(MAKE_DIRECTORY ${WORK_CORPUS} ${ARTIFACTS})
execute_process(
  COMMAND ${FUZZER} -max_total_time=${seconds} -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
          -artifact_prefix=${ARTIFACTS}/ ${WORK_CORPUS} ${SEED_CORPUS}
  RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${FUZZER} found a failure (exit ${result}); the input is in ${ARTIFACTS}")
endif()
