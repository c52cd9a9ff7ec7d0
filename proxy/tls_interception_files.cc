// Reading a terminatingTLS rule's files: bounded, regular files only, key files no wider than
// 0600 (checked on the descriptor that is read, so no window between a stat and the open).
#include "proxy/tls_interception_files.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "proxy/file_digest.h"

namespace portcullis::proxy {
namespace {

constexpr size_t kMaxFileBytes = 4 << 20;  // a system CA bundle is ~220 KB

TlsFileResult<TlsFile> readFile(const std::string& path, bool secret) {
  TlsFile file;
  file.path = path;
  if (path.empty()) return file;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return TlsFileError(TlsError::kUnreadable, path, std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return TlsFileError(TlsError::kUnreadable, path, std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return TlsFileError(TlsError::kUnreadable, path, "not a regular file");
  if (static_cast<size_t>(st.st_size) > kMaxFileBytes)
    return TlsFileError(TlsError::kUnreadable, path, "larger than 4 MiB");
  const mode_t mode = st.st_mode & 07777;
  if (secret && (mode & ~mode_t{0600}) != 0) {
    char text[64];
    std::snprintf(text, sizeof text, "mode %04o; chmod 600 it", static_cast<unsigned>(mode));
    return TlsFileError(TlsError::kKeyTooOpen, path, text);
  }
  file.bytes.resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < file.bytes.size()) {
    const ssize_t n = ::read(fd, file.bytes.data() + done, file.bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return TlsFileError(TlsError::kUnreadable, path, std::strerror(errno));
    if (n == 0) break;  // shrank while read: what was read is what is judged
    done += static_cast<size_t>(n);
  }
  file.bytes.resize(done);
  file.digest = sha256Hex(file.bytes);
  return file;
}

}  // namespace

TlsFile::~TlsFile() {
  if (!bytes.empty()) explicit_bzero(bytes.data(), bytes.size());  // key material
}

TlsFilesResult<TlsInterceptionFiles> readInterceptionFiles(
    const policy::TerminatingTls& terminating, const policy::OriginatingTls* originating) {
  TlsInterceptionFiles files;
  TlsFileErrors failed;
  // Every file is read even after one failed, so that each bad one is reported at once.
  const auto read = [&failed](TlsFile& into, const std::string& path, bool secret) {
    auto file = readFile(path, secret);
    if (file) {
      into = std::move(file.value());
    } else {
      failed.errors.push_back(std::move(file.error()));
    }
  };
  read(files.certificate, terminating.certificate, false);
  read(files.private_key, terminating.private_key, true);
  read(files.ca_certificate, terminating.ca_certificate, false);
  read(files.ca_key, terminating.ca_key, true);
  read(files.ca_bundle, originating ? originating->ca_bundle : std::string(), false);
  if (!failed.errors.empty()) return failed;
  return files;
}

}  // namespace portcullis::proxy
