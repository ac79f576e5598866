{
  "targets": [
    {
      "target_name": "switchyard_sm",
      "sources": ["native/sm.cc"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers", "-Wno-cast-function-type"]
    }
  ]
}
