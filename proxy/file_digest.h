// SHA-256 of a file, hex-encoded, for /status's policy digests (an operator compares them with
// `sha256sum` of the files they deployed). The only user of OpenSSL's EVP digest API.
#pragma once

#include <string>

#include "common/result.h"

namespace portcullis::proxy {

Result<std::string> sha256OfFile(const std::string& path);

}  // namespace portcullis::proxy
