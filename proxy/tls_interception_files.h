// The bytes of one terminatingTLS rule's files as read for one load, with their digests: what
// TlsInterception is built from, and what TlsInterceptionSet compares to reuse an entry across a
// reload. Internal to tls_interception*.cc; tls_interception_files.cc reads them.
#pragma once

#include <string>
#include <tuple>

#include "policy/model.h"
#include "proxy/tls_error.h"

namespace portcullis::proxy {

struct TlsFile {
  std::string path;    // empty: not configured
  std::string bytes;   // wiped when destroyed: it may be a private key
  std::string digest;  // SHA-256 of bytes, hex

  TlsFile() = default;
  TlsFile(TlsFile&&) = default;
  TlsFile& operator=(TlsFile&&) = default;
  ~TlsFile();
  bool sameAs(const TlsFile& other) const {
    // A failed digest (empty) never matches: the file is then built again, never reused.
    return path == other.path && digest == other.digest && (path.empty() || !digest.empty());
  }
};

struct TlsInterceptionFiles {
  TlsFile certificate;
  TlsFile private_key;
  TlsFile ca_certificate;
  TlsFile ca_key;
  TlsFile ca_bundle;  // originatingTLS ca-bundle; empty path: the system bundle

  bool sameAs(const TlsInterceptionFiles& o) const {
    return certificate.sameAs(o.certificate) && private_key.sameAs(o.private_key) &&
           ca_certificate.sameAs(o.ca_certificate) && ca_key.sameAs(o.ca_key) &&
           ca_bundle.sameAs(o.ca_bundle);
  }
};

// Reads every file the rule names; key files wider than 0600 are refused. The error lists each
// file that failed.
TlsFilesResult<TlsInterceptionFiles> readInterceptionFiles(
    const policy::TerminatingTls& terminating, const policy::OriginatingTls* originating);

}  // namespace portcullis::proxy
