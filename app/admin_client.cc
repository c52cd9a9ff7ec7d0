#include "app/admin_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <charconv>

#include "common/ip_address.h"

namespace portcullis::app {

namespace asio = boost::asio;
using Tcp = asio::ip::tcp;
using boost::system::error_code;

Result<AdminAddress> parseAdminAddress(std::string_view s) {
  std::string_view host;
  std::string_view port;
  if (s.starts_with('[')) {
    const size_t close = s.find("]:");
    if (close == std::string_view::npos) return std::make_error_code(std::errc::invalid_argument);
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    const size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) return std::make_error_code(std::errc::invalid_argument);
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  unsigned number = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  const auto address = IpAddress::parse(host);
  if (!address || address->isV4() == s.starts_with('[') || port.empty() || ec != std::errc{} ||
      end != port.data() + port.size() || number == 0 || number > 65535) {
    return std::make_error_code(std::errc::invalid_argument);
  }
  return AdminAddress{std::string(host), static_cast<uint16_t>(number)};
}

Result<AdminResponse> adminGet(const AdminAddress& at, const std::string& path, Duration timeout) {
  asio::io_context io;
  error_code ec;
  const auto address = asio::ip::make_address(at.host, ec);
  if (ec) return std::make_error_code(std::errc::invalid_argument);
  Tcp::socket socket(io);
  std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + at.host +
                        "\r\nAccept: */*\r\nConnection: close\r\nUser-Agent: portcullis-status\r\n\r\n";
  std::string answer;
  error_code failure;
  bool done = false;
  socket.async_connect(Tcp::endpoint(address, at.port), [&](const error_code& e) {
    if (e) {
      failure = e;
      done = true;
      return;
    }
    asio::async_write(socket, asio::buffer(request), [&](const error_code& we, size_t) {
      if (we) {
        failure = we;
        done = true;
        return;
      }
      asio::async_read(socket, asio::dynamic_buffer(answer, 16 << 20),
                       [&](const error_code& re, size_t) {
                         if (re && re != asio::error::eof) failure = re;
                         done = true;
                       });
    });
  });
  io.run_for(timeout);
  if (!done) return std::make_error_code(std::errc::timed_out);
  if (failure) return std::error_code(failure.value(), std::system_category());
  // "HTTP/1.1 200 OK\r\n...\r\n\r\nbody": the server sends Content-Length and closes, so the body
  // is everything after the head.
  const size_t head_end = answer.find("\r\n\r\n");
  int status = 0;
  if (answer.starts_with("HTTP/1.") && answer.size() > 12 && head_end != std::string::npos) {
    std::from_chars(answer.data() + 9, answer.data() + 12, status);
  }
  if (status < 100 || status > 599) return std::make_error_code(std::errc::bad_message);
  return AdminResponse{status, answer.substr(head_end + 4)};
}

}  // namespace portcullis::app
