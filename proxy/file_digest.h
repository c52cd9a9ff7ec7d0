// SHA-256 of a file, hex-encoded, for /status's policy digests (an operator compares them with
// `sha256sum` of the files they deployed). The only user of OpenSSL's EVP digest API.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace portcullis::proxy {

Result<std::string> sha256OfFile(const std::string& path);
// Of bytes already read (TLS interception compares certificate files across reloads by it).
std::string sha256Hex(std::string_view bytes);

}  // namespace portcullis::proxy
