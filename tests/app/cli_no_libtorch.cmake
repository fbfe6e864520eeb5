# `scmoe` (what a user calls for analyze / convert / diff) loads no LibTorch: ldd lists none of its
# libraries. `scmoe run` still works: scmoe hands it to scmoe-run, whose help lists run's own options.
# Invoked with -DSCMOE=<scmoe binary>.
execute_process(COMMAND ldd "${SCMOE}" RESULT_VARIABLE rc OUTPUT_VARIABLE libs ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "ldd ${SCMOE} failed (${rc}): ${err}")
endif()
if(libs MATCHES "libtorch|libc10[._]|libQt|libopencv")
  message(FATAL_ERROR "scmoe loads LibTorch (or what it pulls in):\n${libs}")
endif()
execute_process(COMMAND "${SCMOE}" run --help RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "--config" OR NOT out MATCHES "--ab")
  message(FATAL_ERROR "scmoe run --help (through scmoe-run) failed (${rc}):\n${out}\n${err}")
endif()
execute_process(COMMAND "${SCMOE}" --help RESULT_VARIABLE rc OUTPUT_VARIABLE out)
if(NOT out MATCHES "run" OR NOT out MATCHES "analyze")
  message(FATAL_ERROR "scmoe --help does not list run and analyze:\n${out}")
endif()
