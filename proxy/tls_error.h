// The TLS interception layer's errors (issue 7): an error enum with its own category, as
// proxy_error.h, and TlsFileError, which adds what `portcullis check` and the reload log must
// print: the file and, for a policy, the rule that named it.
#pragma once

#include <boost/outcome/std_result.hpp>

#include <cstdint>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace portcullis::proxy {

enum class TlsError : uint8_t {
  kUnreadable = 1,          // open/read failed, not a regular file, or too large
  kKeyTooOpen,              // a private key file whose mode is wider than 0600
  kBadPem,                  // no certificate or key could be decoded
  kEncryptedKey,            // a passphrase-protected key: nobody could type the passphrase
  kKeyMismatch,             // the certificate's public key is not the private key's
  kNotCa,                   // ca-certificate without basicConstraints CA:TRUE
  kExpired,                 // notAfter is in the past
  kNoServerName,            // a leaf to mint, or an origin to verify, without a name
  kInvalidServerName,       // a name that cannot go into a subjectAltName
  kMintFailed,              // OpenSSL failed to build or sign a leaf
  kContextFailed,           // OpenSSL failed to build an SSL_CTX
};

const std::error_category& tlsCategory();

inline std::error_code make_error_code(TlsError e) {  // NOLINT(readability-identifier-naming)
  return {static_cast<int>(e), tlsCategory()};
}

// An error of loading certificate and key files: the code, and the text for humans.
struct TlsFileError {
  std::error_code code;
  std::string file;    // the file at fault
  std::string detail;  // reason beyond the code's message, may be empty
  std::string where;   // prefix naming the rule: "policy.yaml:12:5: rule 'x' terminatingTLS"

  TlsFileError() = default;
  TlsFileError(std::error_code c) : code(c) {}  // NOLINT(google-explicit-constructor): PC_TRY
  TlsFileError(TlsError e, std::string f, std::string d = {})
      : code(make_error_code(e)), file(std::move(f)), detail(std::move(d)) {}

  // "[WHERE: ]FILE: REASON[: DETAIL]", fit for one log line; names no key material.
  std::string message() const;
};

// Lets Boost.Outcome treat TlsFileError as an error code (its .value() throws system_error).
inline const std::error_code& make_error_code(const TlsFileError& e) { return e.code; }
[[noreturn]] void outcome_throw_as_system_error_with_payload(const TlsFileError& e);

template <class T>
using TlsFileResult = boost::outcome_v2::std_result<T, TlsFileError>;

// Every file error of one load, in the order the files are named (several rules, several files
// of a rule), so that one reload reports each bad file as a policy's errors are reported: one
// line each.
struct TlsFileErrors {
  std::vector<TlsFileError> errors;

  TlsFileErrors() = default;
  TlsFileErrors(TlsFileError e) {  // NOLINT(google-explicit-constructor): PC_TRY
    errors.push_back(std::move(e));
  }

  // One message() per error, each on its own line.
  std::string message() const;
};

// The first error's code, for Boost.Outcome.
const std::error_code& make_error_code(const TlsFileErrors& e);
[[noreturn]] void outcome_throw_as_system_error_with_payload(const TlsFileErrors& e);

template <class T>
using TlsFilesResult = boost::outcome_v2::std_result<T, TlsFileErrors>;

}  // namespace portcullis::proxy

template <>
struct std::is_error_code_enum<portcullis::proxy::TlsError> : std::true_type {};
