# grove_layer(NAME DEPS ...): a static library from src/grove/NAME/**.cpp, and one GoogleTest
# binary NAME_tests from the *_test.cpp files beside the code. Adding a source or a test file
# needs no CMake edit (the globs are re-checked at build time).
function(grove_layer name)
  cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
  file(GLOB_RECURSE all_sources CONFIGURE_DEPENDS
       ${PROJECT_SOURCE_DIR}/src/grove/${name}/*.cpp)
  set(sources ${all_sources})
  list(FILTER sources EXCLUDE REGEX "_test\\.cpp$")
  list(FILTER sources EXCLUDE REGEX "_fuzz\\.cpp$")
  set(tests ${all_sources})
  list(FILTER tests INCLUDE REGEX "_test\\.cpp$")
  if(sources)
    add_library(grove_${name} STATIC ${sources})
    set(scope PUBLIC)
  else()
    add_library(grove_${name} INTERFACE)  # a layer with no code yet
    set(scope INTERFACE)
  endif()
  target_include_directories(grove_${name} ${scope} ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(grove_${name} ${scope} ${ARG_DEPS})
  target_compile_definitions(grove_${name} ${scope} GROVE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  if(tests)
    add_executable(${name}_tests ${tests})
    target_link_libraries(${name}_tests PRIVATE grove_${name} GTest::gtest GTest::gtest_main)
    add_test(NAME ${name}_tests COMMAND ${name}_tests --gtest_brief=1
             WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(${name}_tests PROPERTIES LABELS unit)
    set_property(GLOBAL APPEND PROPERTY GROVE_UNIT_TEST_TARGETS ${name}_tests)
  endif()
endfunction()
