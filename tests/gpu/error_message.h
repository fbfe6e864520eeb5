// The message of the exception a call throws ("" when it throws none), for tests that check what an
// error says rather than only that there was one.
#pragma once

#include <exception>
#include <functional>
#include <string>

namespace scmoe::engine {

inline std::string error_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace scmoe::engine
