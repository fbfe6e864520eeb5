# `scmoe run` as the headless quick start uses it: a short demo run writes an HTML report with the
# sections a reader needs and a trace that `scmoe analyze` reads back with the engine's communication in it.
# Invoked with -DSCMOE=<scmoe binary> -DCONFIG=<demo.toml> -DWORK=<scratch folder>.
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
execute_process(COMMAND "${SCMOE}" run --config "${CONFIG}" --iters 2 --warmup 1
                        --report "${WORK}/report.html" --trace "${WORK}/trace.scmoe"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "scmoe run failed (${rc}):\n${out}\n${err}")
endif()
file(READ "${WORK}/report.html" html)
foreach(needle "<h2>Configuration</h2>" "<h2>Machine and versions</h2>" "<h2>Summary</h2>"
               "speedup over top2 (x = T_top2" "time saved vs top2 (% time"
               "<h2>Timeline of the last iteration</h2>" "<h2>Iteration time</h2>" "fill=\"url(#emulated)\"")
  string(FIND "${html}" "${needle}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the report lacks '${needle}'")
  endif()
endforeach()
execute_process(COMMAND "${SCMOE}" analyze --json "${WORK}/trace.scmoe"
                RESULT_VARIABLE rc OUTPUT_VARIABLE json ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "scmoe analyze of the run's trace failed:\n${err}")
endif()
string(JSON rows LENGTH "${json}" overlap whole_trace)
math(EXPR last "${rows} - 1")
string(JSON comm GET "${json}" overlap whole_trace ${last} total comm_ns)
if(comm LESS_EQUAL 0)
  message(FATAL_ERROR "the run's trace has no communication time:\n${json}")
endif()
file(REMOVE_RECURSE "${WORK}")
