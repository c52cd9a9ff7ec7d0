// Errors are values: every layer returns Result<T> and owns an error enum with its own
// std::error_category. Boost.Outcome rather than std::expected because clang 14 (libFuzzer)
// cannot use libstdc++'s <expected>.
#pragma once

#include <boost/outcome/std_result.hpp>
#include <boost/outcome/try.hpp>

#include <system_error>

namespace portcullis {

template <class T>
using Result = boost::outcome_v2::std_result<T>;

using boost::outcome_v2::success;

// Result<void> success value: `return ok();`
inline auto ok() { return boost::outcome_v2::success(); }

}  // namespace portcullis

// Propagates the error of a Result-returning expression: PC_TRY(x, f()); declares x.
// (Boost 1.74 takes a plain name, not "auto x".)
#define PC_TRY BOOST_OUTCOME_TRY
