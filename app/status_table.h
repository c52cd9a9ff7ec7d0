// `portcullis status`'s table: the /status JSON of a running daemon (proxy/status_report.h) as
// text for a terminal.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace portcullis::app {

// bad_message when `json` is not a /status document.
Result<std::string> statusTable(std::string_view json);

}  // namespace portcullis::app
