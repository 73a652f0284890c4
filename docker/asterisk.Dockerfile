# The same Asterisk as the test rig: Debian sid's Asterisk 22, with the project's
# config/asterisk and dialplan/ mounted by docker-compose.yml (not copied, so edits apply
# on a restart).
FROM debian:sid-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends asterisk asterisk-modules asterisk-config \
      asterisk-core-sounds-en-wav asterisk-moh-opsound-wav espeak-ng sox \
 && rm -rf /var/lib/apt/lists/*
# The hotline's own prompts (Chinese and English), spoken from the texts in prompts/ by the
# same script as the test rig; English system prompts come from asterisk-core-sounds-en-wav.
COPY prompts /tmp/prompts
RUN sh /tmp/prompts/build.sh /tmp/prompts /var/lib/asterisk/sounds/callcenter \
 && chown -R asterisk:asterisk /var/lib/asterisk/sounds/callcenter \
 && rm -rf /tmp/prompts
EXPOSE 5038 5060/udp
CMD ["/usr/sbin/asterisk", "-f", "-vvv"]
