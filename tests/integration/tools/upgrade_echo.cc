// A tiny origin for the WebSocket tests: listens on BIND:PORT (v4 or v6); a request with an
// `Upgrade` header is answered `101 Switching Protocols`, after which every byte received is
// echoed back until the peer closes; any other request gets `200` with body "plain\n" and the
// connection is closed. Prints one line per request head ("upgrade GET /chat" or
// "plain GET /x"). A child process serves each connection and dies with the parent, which
// exits after SECONDS seconds.
//
// usage: upgrade_echo BIND PORT SECONDS
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(2);
}

bool writeAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void serve(int fd) {
  std::string head;
  char buf[4096];
  size_t end = std::string::npos;
  while ((end = head.find("\r\n\r\n")) == std::string::npos) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0 || head.size() > 65536) return;
    head.append(buf, static_cast<size_t>(n));
  }
  const std::string request_line = head.substr(0, head.find("\r\n"));
  const std::string rest = head.substr(end + 4);  // bytes sent right after the head
  const bool upgrade = lower(head).find("\r\nupgrade:") != std::string::npos;
  std::printf("%s %s\n", upgrade ? "upgrade" : "plain", request_line.substr(0, request_line.rfind(' ')).c_str());
  std::fflush(stdout);
  if (!upgrade) {
    static const char kPlain[] =
        "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nplain\n";
    writeAll(fd, kPlain, sizeof kPlain - 1);
    return;
  }
  static const char kSwitch[] =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
  if (!writeAll(fd, kSwitch, sizeof kSwitch - 1)) return;
  if (!rest.empty() && !writeAll(fd, rest.data(), rest.size())) return;
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0 || !writeAll(fd, buf, static_cast<size_t>(n))) return;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s BIND PORT SECONDS\n", argv[0]);
    return 2;
  }
  const int seconds = std::atoi(argv[3]);
  sockaddr_storage addr{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  const auto port = static_cast<uint16_t>(std::atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof *v4;
  } else if (inet_pton(AF_INET6, argv[1], &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof *v6;
  } else {
    std::fprintf(stderr, "bad address %s\n", argv[1]);
    return 2;
  }
  const int listener = ::socket(addr.ss_family, SOCK_STREAM, 0);
  if (listener < 0) die("socket");
  const int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), len) != 0) die("bind");
  if (::listen(listener, 64) != 0) die("listen");
  ::signal(SIGCHLD, SIG_IGN);  // children are reaped by the kernel
  std::printf("ready\n");
  std::fflush(stdout);
  ::alarm(static_cast<unsigned>(seconds));  // children inherit no alarm: they set their own
  for (;;) {
    const int fd = ::accept(listener, nullptr, nullptr);
    if (fd < 0) continue;
    const pid_t child = ::fork();
    if (child == 0) {
      ::close(listener);
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // the harness stops the parent by PID; no orphans
      ::alarm(static_cast<unsigned>(seconds));
      serve(fd);
      ::close(fd);
      std::_Exit(0);
    }
    ::close(fd);
  }
}
