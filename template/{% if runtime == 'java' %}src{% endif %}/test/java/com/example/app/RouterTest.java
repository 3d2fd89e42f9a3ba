package com.example.app;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class RouterTest {

    private static final String JSON = "application/json";
    private static final String BAD_NAME = "{\"error\":\"name may contain only letters, digits, spaces, '-', '_' and '.'\"}";

    private final Router router = new Router(new ServiceInfo("orders", "1.2.3"));

    private Response get(String path, Map<String, String> query) {
        return router.handle("GET", path, query);
    }

    @Test
    void healthReportsServiceAndVersion() {
        Response response = get("/health", Map.of());
        assertEquals(200, response.status());
        assertEquals(JSON, response.headers().get("content-type"));
        assertEquals("{\"status\":\"ok\",\"service\":\"orders\",\"version\":\"1.2.3\"}", response.body());
    }

    @Test
    void helloGreetsTheWorldByDefault() {
        assertEquals("{\"message\":\"Hello, world!\"}", get("/hello", Map.of()).body());
        assertEquals("{\"message\":\"Hello, world!\"}", get("/hello", Map.of("name", "")).body());
    }

    @Test
    void helloGreetsByName() {
        Response response = get("/hello", Map.of("name", "Ada"));
        assertEquals(200, response.status());
        assertEquals(JSON, response.headers().get("content-type"));
        assertEquals("{\"message\":\"Hello, Ada!\"}", response.body());
    }

    @ParameterizedTest
    @ValueSource(strings = {"Ada Lovelace", "a.b-c_d", "R2D2"})
    void helloAcceptsLettersDigitsSpacesAndPunctuation(String name) {
        assertEquals(200, get("/hello", Map.of("name", name)).status());
    }

    @ParameterizedTest
    @ValueSource(strings = {"<b>", "a/b", "Zoë", "Robert'); DROP TABLE", "tab\there"})
    void helloRejectsOtherCharacters(String name) {
        Response response = get("/hello", Map.of("name", name));
        assertEquals(400, response.status());
        assertEquals(JSON, response.headers().get("content-type"));
        assertEquals(BAD_NAME, response.body());
    }

    @Test
    void helloAcceptsAtMost64Characters() {
        assertEquals(200, get("/hello", Map.of("name", "a".repeat(64))).status());
        Response response = get("/hello", Map.of("name", "a".repeat(65)));
        assertEquals(400, response.status());
        assertEquals("{\"error\":\"name must be at most 64 characters\"}", response.body());
    }

    @ParameterizedTest
    @ValueSource(strings = {"/", "/nope", "/health/", "/HEALTH"})
    void unknownPathsAreNotFound(String path) {
        Response response = get(path, Map.of());
        assertEquals(404, response.status());
        assertEquals(JSON, response.headers().get("content-type"));
        assertEquals("{\"error\":\"not found\"}", response.body());
    }

    @ParameterizedTest
    @ValueSource(strings = {"/health", "/hello", "/nope"})
    void headAnswersAsGetDoes(String path) {
        assertEquals(get(path, Map.of()), router.handle("HEAD", path, Map.of()));
        assertEquals(get(path, Map.of("name", "<b>")), router.handle("HEAD", path, Map.of("name", "<b>")));
    }

    @ParameterizedTest
    @ValueSource(strings = {"POST", "PUT", "DELETE", "OPTIONS"})
    void otherMethodsAreNotAllowed(String method) {
        Response response = router.handle(method, "/health", Map.of());
        assertEquals(405, response.status());
        assertEquals(JSON, response.headers().get("content-type"));
        assertEquals("GET, HEAD", response.headers().get("allow"));
        assertEquals("{\"error\":\"method not allowed\"}", response.body());
    }

    @Test
    void parseQueryDecodesAsTheOtherRuntimesAndKeepsTheLastValue() {
        assertEquals(Map.of("name", "Grace", "x", ""), Router.parseQuery("name=Ada+Lovelace&x&name=Grace"));
        assertEquals(Map.of("name", "Zoë"), Router.parseQuery("name=Zo%C3%AB"));
        // A bad escape stays as it is, so that /hello refuses it (400) rather than greet the world.
        assertEquals(Map.of("name", "%zz", "ok", "1"), Router.parseQuery("name=%zz&ok=1&&"));
        assertEquals(Map.of("name", "100%"), Router.parseQuery("name=100%"));
        assertEquals(Map.of(), Router.parseQuery(null));
    }
}
