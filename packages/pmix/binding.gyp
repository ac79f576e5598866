{
  "targets": [
    {
      "target_name": "switchyard_pmix",
      "sources": ["native/pmix_addon.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter", "<!@(pkg-config --cflags pmix)"],
      "libraries": ["<!@(pkg-config --libs pmix)"]
    }
  ]
}
