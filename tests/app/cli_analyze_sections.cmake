# `scmoe analyze` on a two-rank Kineto pair says what the rules did not understand (work in "other" by total
# time, rules that matched nothing) and sets the ranks side by side, in text and in JSON.
# Invoked with -DSCMOE=<scmoe binary> -DRANK0=<file> -DRANK1=<file>.
execute_process(COMMAND "${SCMOE}" analyze --json --top 5 "${RANK0}" "${RANK1}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE json ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "analyze --json failed (${rc}): ${err}")
endif()
string(JSON other LENGTH "${json}" classification other)
string(JSON first GET "${json}" classification other 0 name)
string(JSON unmatched LENGTH "${json}" classification unmatched_rules)
string(JSON rules GET "${json}" classification rules)
if(other LESS 1 OR other GREATER 5 OR unmatched LESS 1 OR NOT unmatched LESS rules)
  message(FATAL_ERROR "classification section: ${other} other (top 5), ${unmatched} of ${rules} rules unmatched\n${json}")
endif()
string(JSON collectives GET "${json}" collectives collectives)
string(JSON ranks LENGTH "${json}" collectives ranks)
string(JSON waits LENGTH "${json}" collectives rank_waits)
if(collectives LESS 1 OR NOT ranks EQUAL 2 OR waits LESS 2)
  message(FATAL_ERROR "collectives section: ${collectives} collectives, ${ranks} ranks, ${waits} rank rows\n${json}")
endif()
execute_process(COMMAND "${SCMOE}" analyze "${RANK0}" "${RANK1}" RESULT_VARIABLE rc OUTPUT_VARIABLE text)
string(SUBSTRING "${first}" 0 40 first)  # the text table cuts long kernel names
foreach(expected "Work in \"other\"" "${first}" "Rules that matched nothing" "Ranks side by side"
                 "Exposed communication spent waiting for other ranks")
  string(FIND "${text}" "${expected}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "analyze (text) lacks \"${expected}\":\n${text}")
  endif()
endforeach()
