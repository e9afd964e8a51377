// Tests of the --root checks: "..", absolute paths and symbolic links out of the root.
#include "root_folder.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace grove::server {
namespace {

namespace fs = std::filesystem;

class RootFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() / fmt::format("grove-root-test-{}", ::getpid());
    fs::remove_all(base_);
    fs::create_directories(base_ / "root" / "sub");
    fs::create_directories(base_ / "root-sibling");
    std::ofstream(base_ / "root" / "sub" / "image.h5") << "x";
    std::ofstream(base_ / "secret.txt") << "secret";
    std::ofstream(base_ / "root-sibling" / "other.txt") << "other";
    fs::create_symlink(base_ / "secret.txt", base_ / "root" / "link-out");
    fs::create_symlink(base_, base_ / "root" / "dir-link-out");
    fs::create_symlink(base_ / "root" / "sub" / "image.h5", base_ / "root" / "link-in");
    root_ = RootFolder::open((base_ / "root").string()).value();
  }
  void TearDown() override { fs::remove_all(base_); }

  fs::path base_;
  RootFolder root_;
};

TEST(PathIsUnder, ComparesWholeComponents) {
  EXPECT_TRUE(path_is_under("/data/root", "/data/root"));
  EXPECT_TRUE(path_is_under("/data/root", "/data/root/a"));
  EXPECT_FALSE(path_is_under("/data/root", "/data/root-other/a"));
  EXPECT_FALSE(path_is_under("/data/root", "/data"));
  EXPECT_TRUE(path_is_under("/", "/anything"));
}

TEST_F(RootFolderTest, AcceptsPathsInside) {
  ResolvedPath relative = root_.resolve_existing("sub/image.h5");
  EXPECT_EQ(relative.verdict, PathVerdict::inside);
  EXPECT_EQ(relative.path, fs::canonical(base_ / "root" / "sub" / "image.h5").string());
  EXPECT_EQ(root_.resolve_existing((base_ / "root" / "sub").string()).verdict, PathVerdict::inside);
  EXPECT_EQ(root_.resolve_existing("link-in").verdict, PathVerdict::inside);
}

TEST_F(RootFolderTest, RefusesDotDotAbsoluteAndSymlinksOut) {
  EXPECT_EQ(root_.resolve_existing("../secret.txt").verdict, PathVerdict::outside);
  EXPECT_EQ(root_.resolve_existing("sub/../../secret.txt").verdict, PathVerdict::outside);
  EXPECT_EQ(root_.resolve_existing((base_ / "secret.txt").string()).verdict, PathVerdict::outside);
  EXPECT_EQ(root_.resolve_existing("/etc/passwd").verdict, PathVerdict::outside);
  EXPECT_EQ(root_.resolve_existing((base_ / "root-sibling" / "other.txt").string()).verdict,
            PathVerdict::outside);
  EXPECT_EQ(root_.resolve_existing("link-out").verdict, PathVerdict::outside);
  EXPECT_EQ(root_.resolve_existing("dir-link-out/secret.txt").verdict, PathVerdict::outside);
  EXPECT_EQ(root_.resolve_image("dir-link-out/secret.txt").verdict, PathVerdict::outside);
  EXPECT_EQ(root_.resolve_new("link-out").verdict, PathVerdict::outside);
  EXPECT_EQ(root_.resolve_new("dir-link-out/new.h5").verdict, PathVerdict::outside);
  EXPECT_EQ(root_.resolve_new("../new.h5").verdict, PathVerdict::outside);
}

TEST_F(RootFolderTest, ContainerPathsKeepTheirInternalPart) {
  ResolvedPath image = root_.resolve_image("sub/image.h5/data/raw");
  ASSERT_EQ(image.verdict, PathVerdict::inside);
  EXPECT_EQ(image.path, fs::canonical(base_ / "root" / "sub" / "image.h5").string() + "/data/raw");
  EXPECT_EQ(root_.resolve_image("sub/missing.h5/data").verdict, PathVerdict::not_found);
  EXPECT_EQ(root_.resolve_image("link-out/data").verdict, PathVerdict::outside);
}

TEST_F(RootFolderTest, NewFilesNeedAnExistingFolderInside) {
  ResolvedPath fresh = root_.resolve_new("sub/project.h5");
  ASSERT_EQ(fresh.verdict, PathVerdict::inside);
  EXPECT_EQ(fresh.path, fs::canonical(base_ / "root" / "sub").string() + "/project.h5");
  EXPECT_EQ(root_.resolve_new("nowhere/project.h5").verdict, PathVerdict::not_found);
  EXPECT_EQ(root_.resolve_new("").verdict, PathVerdict::invalid);
  EXPECT_EQ(root_.resolve_new(std::string("a\0b", 3)).verdict, PathVerdict::invalid);
}

}  // namespace
}  // namespace grove::server
