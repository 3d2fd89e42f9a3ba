package com.example.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class JsonTest {

    @Test
    void objectKeepsTheOrderOfItsFields() {
        assertEquals("{\"a\":\"1\",\"b\":\"2\"}", Json.object("a", "1", "b", "2"));
        assertEquals("{}", Json.object());
    }

    @Test
    void quoteEscapesWhatJsonRequires() {
        assertEquals("\"say \\\"hi\\\"\"", Json.quote("say \"hi\""));
        assertEquals("\"C:\\\\temp\"", Json.quote("C:\\temp"));
        assertEquals("\"a\\nb\\tc\\u0001\"", Json.quote("a\nb\tc\u0001"));
        assertEquals("\"Zoë ✓\"", Json.quote("Zoë ✓"));
    }

    @Test
    void objectNeedsPairs() {
        assertThrows(IllegalArgumentException.class, () -> Json.object("lonely"));
    }
}
