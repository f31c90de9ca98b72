"""Tests for pbx.config.model: sections, items and template resolution (Asterisk main/config.c)."""

from __future__ import annotations

import os
import shutil
import tempfile

from twisted.trial.unittest import SynchronousTestCase

from pbx.config.model import ConfigFile, Item, load, loads


def parse(text: str) -> ConfigFile:
    return loads(text, "t.conf")


def pairs(items: list[Item]) -> list[tuple[str, str]]:
    return [(i.key, i.value) for i in items]


class SectionTests(SynchronousTestCase):
    def test_sections_in_file_order_with_located_items(self) -> None:
        cfg = parse("[general]\nContext = default\n\n[alice]\ntype=friend\n")
        self.assertEqual(cfg.errors, [])
        self.assertEqual([s.name for s in cfg.sections()], ["general", "alice"])
        alice = cfg.section("alice")
        assert alice is not None
        self.assertEqual((alice.path, alice.line), ("t.conf", 4))
        item = alice.items[0]
        self.assertEqual((item.where, item.section, item.name), ("t.conf:5", "alice", "type"))
        general = cfg.section("general")
        assert general is not None
        self.assertEqual(general.value("CONTEXT"), "default")
        self.assertIsNone(general.value("missing"))
        self.assertEqual(general.value("missing", "x"), "x")

    def test_repeated_keys_are_kept_and_the_last_wins(self) -> None:
        cfg = parse("[s]\nallow=ulaw\nAllow=alaw\nqualify=yes\nqualify=no\n")
        section = cfg.section("s")
        assert section is not None
        self.assertEqual(pairs(section.get_all("allow")), [("allow", "ulaw"), ("Allow", "alaw")])
        item = section.get("QUALIFY")
        assert item is not None
        self.assertEqual((item.value, item.line), ("no", 5))

    def test_items_outside_a_section_are_errors(self) -> None:
        cfg = parse("context=default\n[s]\na=1\n")
        self.assertEqual(
            [str(e) for e in cfg.errors], ["t.conf:1: option 'context' outside of any [section]"]
        )
        self.assertEqual(pairs(cfg.all_sections[0].items), [("a", "1")])


class TemplateTests(SynchronousTestCase):
    def test_template_is_hidden_but_kept(self) -> None:
        cfg = parse("[phone](!)\ntype=friend\n[alice](phone)\n")
        self.assertEqual([s.name for s in cfg.sections()], ["alice"])
        self.assertEqual([s.name for s in cfg.all_sections], ["phone", "alice"])
        self.assertIsNone(cfg.section("phone"))
        self.assertTrue(cfg.all_sections[0].template)

    def test_inheritance_copies_bases_in_order_then_own_lines(self) -> None:
        cfg = parse(
            "[a](!)\nx=1\ny=1\nallow=ulaw\n[b](!)\nx=2\nallow=alaw\n[c](a,b)\ny=3\nallow=gsm\n"
        )
        self.assertEqual(cfg.errors, [])
        c = cfg.section("c")
        assert c is not None
        self.assertEqual(c.bases, ("a", "b"))
        self.assertEqual(
            pairs(c.items),
            [
                ("x", "1"),
                ("y", "1"),
                ("allow", "ulaw"),
                ("x", "2"),
                ("allow", "alaw"),
                ("y", "3"),
                ("allow", "gsm"),
            ],
        )
        self.assertEqual(c.value("x"), "2")
        self.assertEqual(c.value("y"), "3")
        self.assertEqual([i.value for i in c.get_all("allow")], ["ulaw", "alaw", "gsm"])

    def test_inherited_items_remember_where_they_were_written(self) -> None:
        cfg = parse("[tpl](!)\nqualify=yes\n[alice](tpl)\nsecret=x\n")
        alice = cfg.section("alice")
        assert alice is not None
        self.assertEqual(
            [(i.key, i.section, i.line) for i in alice.items],
            [("qualify", "tpl", 2), ("secret", "alice", 4)],
        )

    def test_template_inheriting_a_template(self) -> None:
        cfg = parse("[base](!)\ntype=friend\n[office](!,base)\ncontext=office\n[carol](office)\n")
        self.assertEqual([s.name for s in cfg.sections()], ["carol"])
        office = cfg.all_sections[1]
        self.assertTrue(office.template)
        self.assertEqual(office.bases, ("base",))
        carol = cfg.section("carol")
        assert carol is not None
        self.assertEqual(pairs(carol.items), [("type", "friend"), ("context", "office")])

    def test_append_adds_to_the_existing_section(self) -> None:
        cfg = parse("[alice]\ntype=friend\n[bob]\ntype=peer\n[alice](+)\nsecret=x\n")
        self.assertEqual(cfg.errors, [])
        self.assertEqual([s.name for s in cfg.sections()], ["alice", "bob"])
        alice = cfg.section("alice")
        assert alice is not None
        self.assertEqual(pairs(alice.items), [("type", "friend"), ("secret", "x")])

    def test_append_to_a_missing_section_is_an_error(self) -> None:
        cfg = parse("[ghost](+)\nsecret=x\n")
        self.assertEqual(
            [str(e) for e in cfg.errors],
            [
                "t.conf:1: [ghost] cannot append with (+): no earlier section [ghost]",
                "t.conf:2: option 'secret' outside of any [section]",
            ],
        )

    def test_missing_base_is_an_error_but_the_section_stays(self) -> None:
        cfg = parse("[alice](nosuch,real)\ntype=friend\n[real](!)\nx=1\n")
        self.assertEqual(
            [str(e) for e in cfg.errors],
            [
                "t.conf:1: [alice] inherits from 'nosuch', which is not defined earlier",
                "t.conf:1: [alice] inherits from 'real', which is not defined earlier",
            ],
        )
        alice = cfg.section("alice")
        assert alice is not None
        self.assertEqual(pairs(alice.items), [("type", "friend")])

    def test_later_template_changes_do_not_reach_earlier_children(self) -> None:
        # Asterisk copies the base's variables when the child is read.
        cfg = parse("[t](!)\na=1\n[c](t)\n[t](+)\nb=2\n")
        c = cfg.section("c")
        assert c is not None
        self.assertEqual(pairs(c.items), [("a", "1")])


class LoadTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.folder)
        with open(os.path.join(self.folder, "sip.conf"), "w") as f:
            f.write("[general]\n#include extra.conf\n")
        with open(os.path.join(self.folder, "extra.conf"), "w") as f:
            f.write("context=x\n")

    def test_load_with_includes(self) -> None:
        cfg = load(self.folder, "sip.conf")
        self.assertEqual(cfg.errors, [])
        general = cfg.section("general")
        assert general is not None
        self.assertEqual(general.value("context"), "x")
        self.assertEqual(len(cfg.files), 2)

    def test_relative_config_dir_is_not_joined_twice(self) -> None:
        relative = os.path.relpath(self.folder)
        cfg = load(relative, "sip.conf")
        self.assertEqual(cfg.errors, [])
        self.assertEqual(len(cfg.all_sections), 1)

    def test_missing_file(self) -> None:
        cfg = load(self.folder, "nothere.conf")
        self.assertEqual(len(cfg.errors), 1)
        self.assertIn("cannot read: No such file or directory", str(cfg.errors[0]))
