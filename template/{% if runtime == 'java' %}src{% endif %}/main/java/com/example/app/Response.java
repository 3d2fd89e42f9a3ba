package com.example.app;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/** The outcome of routing one request: status, headers and a JSON body. */
record Response(int status, Map<String, String> headers, String body) {

    /**
     * On every answer, errors included: browsers take it as JSON, never as something they
     * guess (nosniff), and no cache, shared or the browser's, keeps it (no-store).
     */
    static final Map<String, String> COMMON_HEADERS = Map.of("x-content-type-options", "nosniff", "cache-control", "no-store");

    static Response json(int status, String body) {
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("content-type", "application/json");
        headers.putAll(COMMON_HEADERS);
        return new Response(status, Collections.unmodifiableMap(headers), body);
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
