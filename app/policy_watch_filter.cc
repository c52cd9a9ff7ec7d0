#include "app/policy_watch_filter.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace portcullis::app {
namespace {

namespace fs = std::filesystem;

// The ConfigMap volume's pointer to the current data directory (kubelet's atomic writer).
constexpr std::string_view kConfigMapData = "..data";

}  // namespace

PolicyWatchFilter::PolicyWatchFilter(const std::vector<std::string>& files) {
  for (const std::string& file : files) {
    const fs::path given = fs::absolute(file).lexically_normal();
    std::vector<fs::path> paths = {given};
    std::error_code ec;
    const fs::path resolved = fs::canonical(given, ec);
    if (!ec && resolved != given) paths.push_back(resolved);
    for (const fs::path& p : paths) {
      const std::string dir = p.parent_path().string();
      directories_.insert(dir);
      entries_.emplace(dir, p.filename().string());
      entries_.emplace(dir, std::string(kConfigMapData));
    }
  }
}

bool PolicyWatchFilter::relevant(std::string_view directory, std::string_view name) const {
  return entries_.count({std::string(directory), std::string(name)}) > 0;
}

std::string PolicyWatchFilter::snapshot(const std::vector<std::string>& files) {
  std::string out;
  for (const std::string& file : files) {
    std::ifstream in(file, std::ios::binary);
    out += file;
    out += '\0';
    if (!in) {
      out += "<unreadable>";
    } else {
      std::ostringstream bytes;
      bytes << in.rdbuf();
      out += std::to_string(bytes.str().size());
      out += '\0';
      out += bytes.str();
    }
    out += '\0';
  }
  return out;
}

}  // namespace portcullis::app
