package org.servicefarm.e2e.support;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Marks a test class that boots real QEMU guests through the system libvirtd. Such classes run one
 * at a time across the test JVMs ({@link OneRealGuestClassAtATime}): two TCG guests fighting for
 * two cores would only stretch both, and one of them restarts libvirtd.
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(OneRealGuestClassAtATime.class)
public @interface RealGuestTest {}
