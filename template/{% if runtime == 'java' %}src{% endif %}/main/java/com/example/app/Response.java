package com.example.app;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/** The outcome of routing one request: status, headers and a JSON body. */
record Response(int status, Map<String, String> headers, String body) {

    static Response json(int status, String body) {
        return new Response(status, Map.of("content-type", "application/json"), body);
    }

    static Response error(int status, String message) {
        return json(status, Json.object("error", message));
    }

    Response withHeader(String name, String value) {
        Map<String, String> more = new LinkedHashMap<>(headers);
        more.put(name, value);
        return new Response(status, Collections.unmodifiableMap(more), body);
    }
}
