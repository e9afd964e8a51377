// Tests of the HTTP server over the test double backend: the access token, the --root and
// static-file path checks, bad and oversized requests, loopback binding, and the API's main
// round trips (classes, strokes, undo, tiles, live update with its push).
#include "server.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "testing/test_backend.h"
#include "tile_encoding.h"

namespace grove::server {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kToken = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() / fmt::format("grove-server-test-{}", ::getpid());
    fs::remove_all(base_);
    fs::create_directories(base_ / "root" / "images");
    fs::create_directories(base_ / "web" / "assets");
    std::ofstream(base_ / "root" / "images" / "cells.png") << "not really a png";
    std::ofstream(base_ / "secret.txt") << "top secret";
    fs::create_symlink(base_ / "secret.txt", base_ / "root" / "images" / "link-out.png");
    std::ofstream(base_ / "web" / "index.html") << "<!doctype html><title>grove</title>";
    std::ofstream(base_ / "web" / "assets" / "app.js") << "console.log('grove')";
    fs::create_symlink(base_ / "secret.txt", base_ / "web" / "assets" / "leak.js");
    start(ServerOptions{});
  }

  void start(ServerOptions options) {
    options.port = 0;
    options.root = (base_ / "root").string();
    options.web_dir = (base_ / "web").string();
    options.token = kToken;
    options.max_body_bytes = 64 * 1024;
    testing::TestBackendOptions backend_options;
    auto created = Server::create(testing::make_test_backend(backend_options), options);
    ASSERT_TRUE(created.ok()) << created.error().to_string();
    server_ = std::move(*created);
    ASSERT_TRUE(server_->bind().ok());
    thread_ = std::thread([this] { (void)server_->run(); });
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(10, 0);
    // Wait until it accepts connections.
    for (int i = 0; i < 200; ++i) {
      if (client_->Get("/api/project")) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  void TearDown() override {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
    client_.reset();
    server_.reset();
    fs::remove_all(base_);
  }

  httplib::Headers auth() const { return {{"Authorization", std::string("Bearer ") + kToken}}; }

  httplib::Result get(const std::string& path) { return client_->Get(path.c_str(), auth()); }
  httplib::Result post(const std::string& path, const json& body) {
    return client_->Post(path.c_str(), auth(), body.dump(), "application/json");
  }
  json get_json(const std::string& path) {
    auto response = get(path);
    EXPECT_TRUE(response);
    if (!response) return {};
    EXPECT_EQ(response->status, 200) << response->body;
    return json::parse(response->body);
  }

  // A project with one synthetic image (test double: discs at 64-pixel spacing) and two classes.
  int64_t add_image_and_classes() {
    auto image = post("/api/images", {{"path", "images/cells.png"}});
    EXPECT_TRUE(image);
    EXPECT_EQ(image->status, 201) << image->body;
    EXPECT_EQ(post("/api/classes", {{"name", "nuclei"}, {"color", "#ff0000"}})->status, 201);
    EXPECT_EQ(post("/api/classes", {{"name", "background"}})->status, 201);
    return json::parse(image->body)["id"].get<int64_t>();
  }

  fs::path base_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(ServerTest, RequestsWithoutTheTokenGet401) {
  for (const char* path : {"/api/project", "/api/files", "/api/tile?image=0&layer=raw",
                           "/api/events", "/", "/assets/app.js"}) {
    auto response = client_->Get(path);
    ASSERT_TRUE(response) << path;
    EXPECT_EQ(response->status, 401) << path;
  }
  auto wrong = client_->Get("/api/project", {{"Authorization", "Bearer wrong"}});
  EXPECT_EQ(wrong->status, 401);
  auto almost = client_->Get(
      "/api/project", {{"Authorization", std::string("Bearer ") + std::string(kToken, 63) + "0"}});
  EXPECT_EQ(almost->status, 401);
  auto post_without = client_->Post("/api/classes", "{}", "application/json");
  EXPECT_EQ(post_without->status, 401);
  EXPECT_EQ(get("/api/project")->status, 200);
  EXPECT_EQ(client_->Get("/api/project", {{"X-Grove-Token", kToken}})->status, 200);
}

TEST_F(ServerTest, TokenInTheAddressBecomesACookie) {
  auto wrong = client_->Get("/?token=nope");
  EXPECT_EQ(wrong->status, 401);
  auto login = client_->Get((std::string("/?token=") + kToken).c_str());
  ASSERT_TRUE(login);
  EXPECT_EQ(login->status, 302);
  const std::string cookie = login->get_header_value("Set-Cookie");
  EXPECT_NE(cookie.find(kToken), std::string::npos);
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos);
  const std::string pair = cookie.substr(0, cookie.find(';'));
  auto page = client_->Get("/", {{"Cookie", "other=1; " + pair}});
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("<title>grove</title>"), std::string::npos);
  EXPECT_EQ(client_->Get("/api/project", {{"Cookie", pair}})->status, 200);
  EXPECT_EQ(client_->Get("/api/project", {{"Cookie", pair + "x"}})->status, 401);
}

TEST_F(ServerTest, PathsOutsideTheRootGet403) {
  const std::string outside = (base_ / "secret.txt").string();
  for (const std::string& path :
       {std::string("../secret.txt"), std::string("images/../../secret.txt"), outside,
        std::string("/etc/passwd"), std::string("images/link-out.png")}) {
    auto response = post("/api/images", {{"path", path}});
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 403) << path << ": " << response->body;
  }
  EXPECT_EQ(get("/api/files?dir=..")->status, 403);
  EXPECT_EQ(get("/api/files?dir=%2Fetc")->status, 403);
  EXPECT_EQ(get("/api/files?dir=images")->status, 200);
  EXPECT_EQ(post("/api/save", {{"path", "../project.json"}})->status, 403);
  EXPECT_EQ(post("/api/save", {{"path", "images/link-out.png"}})->status, 403);
  EXPECT_EQ(post("/api/export", {{"output", "../out/{nickname}.npy"}})->status, 403);
  EXPECT_EQ(post("/api/export", {{"output", outside + "/{nickname}.npy"}})->status, 403);
  EXPECT_EQ(post("/api/images", {{"path", "images/missing.png"}})->status, 404);
  // Nothing was added by the refused requests.
  EXPECT_TRUE(get_json("/api/project")["images"].empty());
  EXPECT_EQ(post("/api/images", {{"path", "images/cells.png"}})->status, 201);
}

TEST_F(ServerTest, StaticFilesCannotEscapeTheWebFolder) {
  EXPECT_EQ(get("/assets/app.js")->status, 200);
  EXPECT_EQ(get("/assets/app.js")->get_header_value("Content-Type"),
            "text/javascript; charset=utf-8");
  for (const char* path :
       {"/../secret.txt", "/assets/../../secret.txt", "/%2e%2e/%2e%2e/secret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt", "/assets/leak.js", "/..%2fsecret.txt"}) {
    auto response = get(path);
    ASSERT_TRUE(response) << path;
    EXPECT_TRUE(response->status == 403 || response->status == 400 || response->status == 404)
        << path << " gave " << response->status;
    EXPECT_EQ(response->body.find("top secret"), std::string::npos) << path;
  }
  EXPECT_EQ(get("/assets/missing.js")->status, 404);
}

TEST_F(ServerTest, OversizedAndMalformedRequestsGet4xxAndTheSessionGoesOn) {
  add_image_and_classes();
  const json before = get_json("/api/project");
  auto oversized =
      client_->Post("/api/classes", auth(), std::string(200 * 1024, ' '), "application/json");
  ASSERT_TRUE(oversized);
  EXPECT_EQ(oversized->status, 413);
  const std::vector<std::string> malformed{"{",    "[1,2", "{\"name\": }", "\xff\xfe",
                                           "null", "[]",   "\"text\""};
  for (const std::string& body : malformed) {
    auto response = client_->Post("/api/classes", auth(), body, "application/json");
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 400) << body;
  }
  EXPECT_EQ(
      client_->Post("/api/classes", auth(), "name=x", "application/x-www-form-urlencoded")->status,
      415);
  // Wrong types and values.
  EXPECT_EQ(post("/api/classes", {{"name", 5}})->status, 400);
  EXPECT_EQ(post("/api/classes", {{"color", "red"}})->status, 400);
  EXPECT_EQ(post("/api/labels/stroke", {{"image", 0}, {"label", 1}, {"radius", 2}})->status, 400);
  EXPECT_EQ(post("/api/labels/stroke",
                 {{"image", 0}, {"label", 1}, {"radius", 1e9}, {"points", {{1, 1}}}})
                ->status,
            400);
  EXPECT_EQ(post("/api/labels/stroke",
                 {{"image", 0}, {"label", 1}, {"radius", 2}, {"points", {{"a", 1}}}})
                ->status,
            400);
  EXPECT_EQ(
      post("/api/labels/stroke", {{"image", 99}, {"label", 1}, {"radius", 2}, {"points", {{1, 1}}}})
          ->status,
      404);
  EXPECT_EQ(post("/api/labels/stroke",
                 {{"image", 0}, {"label", 1e30}, {"radius", 2}, {"points", {{1, 1}}}})
                ->status,
            400);
  EXPECT_EQ(get("/api/tile?image=0&layer=raw&level=99")->status, 400);
  EXPECT_EQ(get("/api/tile?image=0&layer=bogus")->status, 400);
  EXPECT_EQ(get("/api/tile?image=0&layer=raw&u=99999")->status, 400);
  EXPECT_EQ(get("/api/tile?image=0&layer=raw&w=1x")->status, 400);
  EXPECT_EQ(client_->Put("/api/features", auth(), R"({"selected": [[true]]})", "application/json")
                ->status,
            400);
  EXPECT_EQ(get("/api/no-such-endpoint")->status, 404);
  EXPECT_EQ(client_->Delete("/api/images/99999999999999999999999", auth())->status, 404);
  EXPECT_EQ(client_->Delete("/api/classes/99", auth())->status, 404);
  // The session is unharmed: same project, and it still works.
  EXPECT_EQ(get_json("/api/project"), before);
  EXPECT_EQ(post("/api/classes", {{"name", "third"}})->status, 201);
}

TEST_F(ServerTest, ForeignHostHeaderGets403) {
  auto response = client_->Get("/api/project", {{"Authorization", std::string("Bearer ") + kToken},
                                                {"Host", "attacker.example:8080"}});
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 403);
}

TEST_F(ServerTest, BindsLoopbackByDefault) {
  EXPECT_EQ(ServerOptions{}.host, "127.0.0.1");
  EXPECT_EQ(server_->url().rfind("http://127.0.0.1:", 0), 0u);
  EXPECT_NE(server_->url().find(std::string("?token=") + kToken), std::string::npos);
  // The kernel's table of listening TCP sockets: ours is on 127.0.0.1 (0100007F), not 0.0.0.0.
  std::ifstream table("/proc/net/tcp");
  std::string line;
  bool found = false;
  const std::string port_hex = fmt::format(":{:04X}", server_->port());
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    fields >> slot >> local >> remote >> state;
    if (state != "0A" || local.size() < 5 || local.substr(local.size() - 5) != port_hex) continue;
    found = true;
    EXPECT_EQ(local.substr(0, 8), "0100007F") << line;
  }
  EXPECT_TRUE(found) << "no listening socket on port " << server_->port();
}

TEST_F(ServerTest, RandomTokensAreLongAndDiffer) {
  auto first = random_token();
  auto second = random_token();
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->size(), 64u);
  EXPECT_NE(*first, *second);
}

TEST_F(ServerTest, StrokesUndoRedoAndLabelTiles) {
  const int64_t image = add_image_and_classes();
  auto stroke = post("/api/labels/stroke", {{"image", image},
                                            {"plane", "xy"},
                                            {"label", 1},
                                            {"radius", 3},
                                            {"points", {{32, 32}, {40, 32}}}});
  ASSERT_EQ(stroke->status, 200) << stroke->body;
  json change = json::parse(stroke->body);
  EXPECT_EQ(change["box"]["begin"][3], 29);
  EXPECT_TRUE(get_json("/api/project")["can_undo"].get<bool>());

  auto label_tile = [&] {
    auto response = get(
        fmt::format("/api/tile?image={}&layer=labels&plane=xy&level=0&u=0&v=0&w=64&h=64", image));
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body.size(), kTileHeaderBytes + 64 * 64);
    EXPECT_EQ(response->body.substr(0, 4), "GRVT");
    return static_cast<uint8_t>(response->body[kTileHeaderBytes + 32 * 64 + 36]);
  };
  EXPECT_EQ(label_tile(), 1);
  EXPECT_EQ(post("/api/labels/undo", json::object())->status, 200);
  EXPECT_EQ(label_tile(), 0);
  EXPECT_EQ(post("/api/labels/redo", json::object())->status, 200);
  EXPECT_EQ(label_tile(), 1);
  EXPECT_EQ(post("/api/labels/clear", {{"image", image}})->status, 200);
  EXPECT_EQ(label_tile(), 0);
}

TEST_F(ServerTest, RawTilesHaveTheHeaderAndEdgeTilesAreClipped) {
  const int64_t image = add_image_and_classes();  // synthetic 256 × 320 u8
  auto response =
      get(fmt::format("/api/tile?image={}&layer=raw&level=0&u=256&v=0&w=256&h=256", image));
  ASSERT_EQ(response->status, 200) << response->body;
  const std::string& body = response->body;
  ASSERT_GE(body.size(), kTileHeaderBytes);
  EXPECT_EQ(body[4], 1);  // version
  EXPECT_EQ(body[5], 1);  // uint8
  uint32_t width = 0, height = 0;
  std::memcpy(&width, body.data() + 8, 4);
  std::memcpy(&height, body.data() + 12, 4);
  EXPECT_EQ(width, 64u);
  EXPECT_EQ(height, 256u);
  EXPECT_EQ(body.size(), kTileHeaderBytes + 64 * 256);
  // Level 1 halves the plane: 160 × 128.
  auto coarse = get(fmt::format("/api/tile?image={}&layer=raw&level=1&w=512&h=512", image));
  std::memcpy(&width, coarse->body.data() + 8, 4);
  std::memcpy(&height, coarse->body.data() + 12, 4);
  EXPECT_EQ(width, 160u);
  EXPECT_EQ(height, 128u);
  // Before training, prediction tiles are empty.
  EXPECT_EQ(get(fmt::format("/api/tile?image={}&layer=probabilities", image))->status, 204);
}

TEST_F(ServerTest, LiveUpdateRetrainsAndPushesPredictionUpdated) {
  const int64_t image = add_image_and_classes();
  // Listen to the event stream.
  std::mutex mutex;
  std::string received;
  std::atomic<bool> stop{false};
  std::thread listener([&] {
    httplib::Client events("127.0.0.1", server_->port());
    events.set_read_timeout(20, 0);
    events.Get("/api/events", auth(), [&](const char* data, size_t length) {
      std::lock_guard lock(mutex);
      received.append(data, length);
      return !stop.load();
    });
  });
  auto wait_for = [&](const std::string& needle) {
    for (int i = 0; i < 500; ++i) {
      {
        std::lock_guard lock(mutex);
        if (received.find(needle) != std::string::npos) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  };
  ASSERT_TRUE(wait_for("event: hello"));
  auto on = post("/api/live-update", {{"on", true}});
  EXPECT_EQ(on->status, 200);
  EXPECT_TRUE(get_json("/api/project")["live_update"].get<bool>());
  // Paint a nucleus (bright disc centred at 32,32) and background.
  post("/api/labels/stroke",
       {{"image", image}, {"label", 1}, {"radius", 4}, {"points", {{30, 30}, {34, 34}}}});
  post("/api/labels/stroke",
       {{"image", image}, {"label", 2}, {"radius", 3}, {"points", {{2, 2}, {2, 60}}}});
  EXPECT_TRUE(wait_for("event: prediction"));
  EXPECT_TRUE(wait_for("event: labels"));
  auto tile = get(fmt::format("/api/tile?image={}&layer=probabilities&w=64&h=64", image));
  ASSERT_EQ(tile->status, 200);
  EXPECT_EQ(tile->body[6], 2);  // two channels, one per class
  // At the disc centre the nuclei class wins, in the corner the background.
  const uint8_t* pixels = reinterpret_cast<const uint8_t*>(tile->body.data() + kTileHeaderBytes);
  EXPECT_GT(pixels[(32 * 64 + 32) * 2 + 0], 200);
  EXPECT_LT(pixels[(5 * 64 + 5) * 2 + 0], 55);
  EXPECT_GT(pixels[(5 * 64 + 5) * 2 + 1], 200);
  auto importance = get_json("/api/feature-importance");
  EXPECT_FALSE(importance["features"].empty());
  stop = true;
  server_->stop();  // closes the event stream
  listener.join();
}

TEST_F(ServerTest, ExportAndSaveRunAsJobs) {
  const int64_t image = add_image_and_classes();
  post("/api/labels/stroke",
       {{"image", image}, {"label", 1}, {"radius", 4}, {"points", {{30, 30}}}});
  post("/api/labels/stroke", {{"image", image}, {"label", 2}, {"radius", 3}, {"points", {{2, 2}}}});
  EXPECT_EQ(post("/api/train", json::object())->status, 202);
  auto wait_job = [&](const std::string& id) {
    for (int i = 0; i < 500; ++i) {
      const json jobs = get_json("/api/jobs");
      for (const json& job : jobs["jobs"]) {
        if (job["id"] == id && job["state"] != "running") return job;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return json();
  };
  for (int i = 0; i < 500 && !get_json("/api/project")["trained"].get<bool>(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto started = post("/api/export", {{"format", "npy"},
                                      {"source", "simple-segmentation"},
                                      {"output", "images/{nickname}_{result_type}.npy"}});
  ASSERT_EQ(started->status, 202) << started->body;
  json job = wait_job(json::parse(started->body)["job"]);
  EXPECT_EQ(job["state"], "succeeded") << job.dump();
  EXPECT_TRUE(fs::exists(base_ / "root" / "images" / "cells_simple-segmentation.npy"));

  EXPECT_EQ(post("/api/export", {{"format", "bmp"}})->status, 400);
  auto saved = post("/api/save", {{"path", "project.json"}});
  ASSERT_EQ(saved->status, 202);
  job = wait_job(json::parse(saved->body)["job"]);
  EXPECT_EQ(job["state"], "succeeded") << job.dump();
  EXPECT_TRUE(fs::exists(base_ / "root" / "project.json"));
  EXPECT_FALSE(get_json("/api/project")["dirty"].get<bool>());
}

// The stage endpoints over a backend of one stage (the test double): stage 1 is all there is,
// and the stage-numbered export sources are for projects of several stages only.
TEST_F(ServerTest, AProjectOfOneStageRefusesOtherStages) {
  const int64_t image = add_image_and_classes();
  json project = get_json("/api/project");
  EXPECT_EQ(project["stages"], 1);
  EXPECT_EQ(project["stage"], 1);
  EXPECT_EQ(post("/api/stage", {{"stage", 1}})->status, 200);
  auto second = post("/api/stage", {{"stage", 2}});
  EXPECT_EQ(second->status, 400);
  EXPECT_NE(second->body.find("stage 2 does not exist"), std::string::npos) << second->body;
  EXPECT_EQ(post("/api/stage", {{"stage", 0}})->status, 400);
  EXPECT_EQ(post("/api/stage", {{"stage", "two"}})->status, 400);
  EXPECT_EQ(post("/api/stages", {{"count", 1}})->status, 200);
  EXPECT_EQ(post("/api/stages", {{"count", 2}})->status, 400);
  EXPECT_EQ(post("/api/stages", {{"count", 99}})->status, 400);
  const std::string tile =
      fmt::format("/api/tile?image={}&layer=labels&plane=xy&w=16&h=16&stage=", image);
  EXPECT_EQ(get(tile + "1")->status, 200);
  EXPECT_EQ(get(tile + "99")->status, 400);
  EXPECT_EQ(post("/api/export", {{"source", "probabilities-stage-1"}})->status, 400);
}

}  // namespace
}  // namespace grove::server
