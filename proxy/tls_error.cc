#include "proxy/tls_error.h"

namespace portcullis::proxy {
namespace {

class TlsCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "portcullis.tls"; }

  std::string message(int code) const override {
    switch (static_cast<TlsError>(code)) {
      case TlsError::kUnreadable:
        return "cannot read the file";
      case TlsError::kKeyTooOpen:
        return "private key file mode is wider than 0600";
      case TlsError::kBadPem:
        return "no PEM certificate or key could be decoded";
      case TlsError::kEncryptedKey:
        return "private key is encrypted (passphrases are not supported)";
      case TlsError::kKeyMismatch:
        return "certificate does not match the private key";
      case TlsError::kNotCa:
        return "not a CA certificate (needs basicConstraints CA:TRUE)";
      case TlsError::kExpired:
        return "certificate has expired";
      case TlsError::kNoServerName:
        return "no server name (SNI)";
      case TlsError::kInvalidServerName:
        return "server name cannot be put in a certificate";
      case TlsError::kMintFailed:
        return "cannot mint a leaf certificate";
      case TlsError::kContextFailed:
        return "cannot build a TLS context";
    }
    return "unknown TLS error";
  }
};

}  // namespace

const std::error_category& tlsCategory() {
  static const TlsCategory category;
  return category;
}

std::string TlsFileError::message() const {
  std::string out;
  if (!where.empty()) out = where + ": ";
  if (!file.empty()) out += file + ": ";
  out += code.message();
  if (!detail.empty()) out += ": " + detail;
  return out;
}

void outcome_throw_as_system_error_with_payload(const TlsFileError& e) {
  throw std::system_error(e.code, e.message());
}

std::string TlsFileErrors::message() const {
  std::string out;
  for (const TlsFileError& e : errors) out += (out.empty() ? "" : "\n") + e.message();
  return out;
}

const std::error_code& make_error_code(const TlsFileErrors& e) {
  static const std::error_code kNone;
  return e.errors.empty() ? kNone : e.errors.front().code;
}

void outcome_throw_as_system_error_with_payload(const TlsFileErrors& e) {
  throw std::system_error(make_error_code(e), e.message());
}

}  // namespace portcullis::proxy
