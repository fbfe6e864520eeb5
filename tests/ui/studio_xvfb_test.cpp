// The real `scmoe-studio` binary on a real X server: starts Xvfb on a free display, opens the two-rank
// PyTorch-profiler fixture, takes screenshots of the root window with `xwd` and checks that the timeline
// shows spans in the category colours (pixels of exactly those colours, far more than the legend holds).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "scmoe/profiler/report/palette.h"
#include "scmoe/profiler/trace.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;

// A child process, killed and reaped when it goes out of scope.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
    for (const auto& e : extra_env) env_strings.push_back(e);
    std::vector<char*> env;
    for (auto& e : env_strings) env.push_back(e.data());
    env.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    if (posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), env.data()) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Child() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 50; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  bool started() const { return pid_ > 0; }
  bool running() const { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }

 private:
  pid_t pid_ = -1;
};

bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    const std::size_t end = std::min(dirs.find(':', start), dirs.size());
    if (end > start && fs::exists(fs::path(dirs.substr(start, end - start)) / program)) return true;
    start = end + 1;
  }
  return false;
}

int free_display() {
  for (int n = 91; n < 140; ++n) {
    if (!fs::exists("/tmp/.X" + std::to_string(n) + "-lock") && !fs::exists("/tmp/.X11-unix/X" + std::to_string(n))) return n;
  }
  return -1;
}

std::uint32_t be32(const std::string& b, std::size_t at) {
  return (std::uint32_t(std::uint8_t(b[at])) << 24) | (std::uint32_t(std::uint8_t(b[at + 1])) << 16) |
         (std::uint32_t(std::uint8_t(b[at + 2])) << 8) | std::uint32_t(std::uint8_t(b[at + 3]));
}

struct Image {
  int width = 0, height = 0;
  std::vector<std::uint32_t> rgb;  // 0xRRGGBB
};

// XWD (X Window Dump) of a 24/32-bit TrueColor root window: a big-endian header of CARD32 fields, the
// window name, the colour map entries (12 bytes each), then the pixels, bytes_per_line per row.
bool parse_xwd(const std::string& b, Image& out, std::string& error) {
  if (b.size() < 100) { error = "xwd output shorter than its header"; return false; }
  const std::uint32_t header_size = be32(b, 0), format = be32(b, 8), width = be32(b, 16), height = be32(b, 20);
  const std::uint32_t byte_order = be32(b, 28), bpp = be32(b, 44), bytes_per_line = be32(b, 48);
  const std::uint32_t red_mask = be32(b, 56), green_mask = be32(b, 60), blue_mask = be32(b, 64), ncolors = be32(b, 76);
  // With a client connected xwd may report 24 bits per pixel while storing 4 bytes per pixel: trust
  // bytes_per_line for the storage size.
  const std::uint32_t bytes_per_pixel = width ? bytes_per_line / width : 0;
  if (format != 2 || (bpp != 24 && bpp != 32) || (bytes_per_pixel != 3 && bytes_per_pixel != 4)) {
    error = "unsupported xwd format " + std::to_string(format) + ", " + std::to_string(bpp) + " bits per pixel";
    return false;
  }
  const std::size_t data = header_size + std::size_t(ncolors) * 12;
  if (b.size() < data + std::size_t(bytes_per_line) * height) { error = "xwd pixel data truncated"; return false; }
  auto shift_of = [](std::uint32_t mask) { int s = 0; while (mask && !(mask & 1)) { mask >>= 1; ++s; } return s; };
  out.width = int(width);
  out.height = int(height);
  out.rgb.resize(std::size_t(width) * height);
  for (std::uint32_t y = 0; y < height; ++y) {
    for (std::uint32_t x = 0; x < width; ++x) {
      const std::size_t at = data + std::size_t(y) * bytes_per_line + std::size_t(x) * bytes_per_pixel;
      std::uint32_t px = 0;
      for (std::uint32_t i = 0; i < bytes_per_pixel; ++i) {
        const std::uint32_t byte = std::uint8_t(b[at + i]);
        px |= byte_order == 0 ? byte << (8 * i) : byte << (8 * (bytes_per_pixel - 1 - i));
      }
      const std::uint32_t r = (px & red_mask) >> shift_of(red_mask), g = (px & green_mask) >> shift_of(green_mask),
                          bl = (px & blue_mask) >> shift_of(blue_mask);
      out.rgb[std::size_t(y) * width + x] = r << 16 | g << 8 | bl;
    }
  }
  return true;
}

std::string capture(int display) {
  const std::string command = "xwd -root -silent -display :" + std::to_string(display) + " 2>/dev/null";
  std::string bytes;
  if (FILE* pipe = popen(command.c_str(), "r")) {
    char buffer[1 << 16];
    std::size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) bytes.append(buffer, n);
    pclose(pipe);
  }
  return bytes;
}

}  // namespace

TEST(StudioUnderXvfb, FixtureTraceShowsColouredSpans) {
  if (!on_path("Xvfb") || !on_path("xwd")) GTEST_SKIP() << "needs Xvfb and xwd (Debian packages xvfb, x11-apps)";
  const int display = free_display();
  ASSERT_GT(display, 0) << "no free X display number";
  const std::string studio = SCMOE_BINARY_DIR "/app/scmoe-studio";
  ASSERT_TRUE(fs::exists(studio)) << studio;
  const std::string dpy = ":" + std::to_string(display);
  Child xvfb({"Xvfb", dpy, "-screen", "0", "1600x1200x24", "-nolisten", "tcp"}, {});
  ASSERT_TRUE(xvfb.started()) << "Xvfb not found";
  const fs::path socket = "/tmp/.X11-unix/X" + std::to_string(display);
  for (int i = 0; i < 100 && !fs::exists(socket); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(fs::exists(socket)) << "Xvfb did not start on " << dpy;

  const fs::path config_home = fs::temp_directory_path() / ("scmoe-xvfb-test-" + std::to_string(getpid()));
  fs::create_directories(config_home);
  const std::string fixtures = SCMOE_FIXTURES_DIR "/kineto/";
  Child app({studio, fixtures + "trace_filter__sampled_rank-0.json.gz", fixtures + "trace_filter__sampled_rank-1.json.gz"},
            {"DISPLAY=" + dpy, "QT_QPA_PLATFORM=xcb", "XDG_CONFIG_HOME=" + config_home.string()});
  ASSERT_TRUE(app.started());

  // Reference colours: the shared palette, computed apart from the Qt code that paints.
  std::vector<std::uint32_t> palette;
  for (int c = 0; c < scmoe::prof::kCategoryCount; ++c) palette.push_back(scmoe::prof::category_rgb(static_cast<scmoe::prof::Category>(c)));
  std::size_t best = 0;
  std::string error;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  while (std::chrono::steady_clock::now() < deadline && app.running()) {
    Image image;
    if (parse_xwd(capture(display), image, error)) {
      std::vector<std::size_t> counts(palette.size(), 0);
      for (std::uint32_t px : image.rgb)
        for (std::size_t c = 0; c < palette.size(); ++c) counts[c] += px == palette[c];
      best = *std::max_element(counts.begin(), counts.end());
      // A legend swatch is about 15 x 15 pixels; spans in the timeline cover thousands.
      if (best > 3000) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  fs::remove_all(config_home);
  EXPECT_TRUE(app.running()) << "scmoe-studio exited early";
  EXPECT_GT(best, 3000u) << "category-coloured pixels in the screenshot: " << best << " " << error;
}
