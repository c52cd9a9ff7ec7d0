#include "datapath/process_command_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include "common/log.h"
#include "datapath/datapath_error.h"

extern char** environ;

namespace portcullis::datapath {
namespace {

// Owns one descriptor; closes it exactly once.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

bool makePipe(Fd& read_end, Fd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return false;
  read_end = Fd(fds[0]);
  write_end = Fd(fds[1]);
  return true;
}

// Writes stdin and drains stdout/stderr until the child closes both.
void pump(Fd& in, Fd& out, Fd& err, std::string_view input, CommandOutput& result) {
  size_t written = 0;
  if (input.empty()) in.reset();
  std::array<char, 16384> buffer;
  while (in.get() >= 0 || out.get() >= 0 || err.get() >= 0) {
    std::array<pollfd, 3> fds{{{in.get(), POLLOUT, 0}, {out.get(), POLLIN, 0}, {err.get(), POLLIN, 0}}};
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents != 0) {
      const ssize_t n = ::write(in.get(), input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      // EPIPE: the child exited early; its exit code tells why.
      if (n < 0 && errno != EINTR && errno != EAGAIN) in.reset();
      if (written == input.size()) in.reset();
    }
    for (int i = 1; i <= 2; ++i) {
      if (fds[i].revents == 0) continue;
      Fd& fd = i == 1 ? out : err;
      const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
      if (n > 0) (i == 1 ? result.out : result.err).append(buffer.data(), static_cast<size_t>(n));
      else if (n == 0 || (errno != EINTR && errno != EAGAIN)) fd.reset();
    }
  }
}

}  // namespace

Result<CommandOutput> ProcessCommandRunner::run(const std::vector<std::string>& argv,
                                                std::string_view stdin_data) {
  if (argv.empty()) return DatapathError::kSpawnFailed;
  Fd in_read, in_write, out_read, out_write, err_read, err_write;
  if (!makePipe(in_read, in_write) || !makePipe(out_read, out_write) ||
      !makePipe(err_read, err_write)) {
    log::error("pipe2 for ", argv[0], ": ", std::strerror(errno));
    return DatapathError::kSpawnFailed;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_read.get(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_write.get(), STDERR_FILENO);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // A child that exits before reading all its stdin must not kill us with SIGPIPE: the daemon
  // ignores it process-wide (as any network server must), and the child gets the default back.
  static const bool sigpipe_ignored = (::signal(SIGPIPE, SIG_IGN), true);
  (void)sigpipe_ignored;
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, &attributes, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (rc != 0) {
    log::debug("cannot start ", argv[0], ": ", std::strerror(rc));
    return DatapathError::kSpawnFailed;
  }
  in_read.reset();
  out_write.reset();
  err_write.reset();
  // Our ends only: a blocking write of a large payload would wait for a child that is itself
  // blocked writing output we are not reading yet.
  for (const Fd* fd : {&in_write, &out_read, &err_read})
    ::fcntl(fd->get(), F_SETFL, ::fcntl(fd->get(), F_GETFL) | O_NONBLOCK);
  CommandOutput result;
  pump(in_write, out_read, err_read, stdin_data, result);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return DatapathError::kSpawnFailed;
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace portcullis::datapath
