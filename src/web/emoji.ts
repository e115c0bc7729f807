/** A modest, bundled set of Unicode emoji for the picker (no images, no outside requests). */
export interface EmojiGroup {
  readonly name: string;
  readonly emoji: readonly string[];
}

const groups: [string, string][] = [
  [
    'Smileys',
    '😀 😃 😄 😁 😆 😅 🤣 😂 🙂 🙃 😉 😊 😇 🥰 😍 🤩 😘 😗 😋 😛 😜 🤪 😝 🤑 🤗 🤭 🤫 🤔 🤐 🤨 😐 😑 😶 😏 😒 🙄 😬 😌 😔 😪 🤤 😴 😷 🤒 🤕 🤢 🤮 🥵 🥶 🥴 😵 🤯 🤠 🥳 😎 🤓 🧐 😕 😟 🙁 😮 😯 😲 😳 🥺 😦 😧 😨 😰 😥 😢 😭 😱 😖 😣 😞 😓 😩 😫 🥱 😤 😡 😠 🤬 😈 💀 💩 🤡 👻 👽 🤖',
  ],
  ['Gestures', '👋 🤚 ✋ 🖖 👌 🤌 🤏 ✌️ 🤞 🤟 🤘 🤙 👈 👉 👆 👇 ☝️ 👍 👎 ✊ 👊 🤛 🤜 👏 🙌 👐 🤲 🤝 🙏 💪 👀 🧠 🫶'],
  ['Hearts', '❤️ 🧡 💛 💚 💙 💜 🖤 🤍 🤎 💔 ❣️ 💕 💞 💓 💗 💖 💘 💝 💯 💢 💥 💫 💦 💨 💬 💭 💤'],
  [
    'Nature',
    '🐶 🐱 🐭 🐹 🐰 🦊 🐻 🐼 🐨 🐯 🦁 🐮 🐷 🐸 🐵 🐔 🐧 🐦 🦆 🦉 🐺 🐴 🦄 🐝 🦋 🐌 🐞 🐢 🐍 🐙 🐬 🐳 🌵 🌲 🌴 🌱 🍀 🍁 🌷 🌹 🌻 🌸 🌞 🌝 🌚 🌈 ⭐ 🌟 ⚡ 🔥 ❄️ ☔ 🌊',
  ],
  ['Food', '🍏 🍎 🍐 🍊 🍋 🍌 🍉 🍇 🍓 🍒 🍑 🥭 🍍 🥥 🥝 🍅 🥑 🌶️ 🌽 🥕 🥐 🍞 🧀 🍳 🥞 🥓 🍔 🍟 🍕 🌭 🌮 🌯 🍜 🍣 🍦 🍩 🍪 🎂 🍰 🍫 🍿 ☕ 🍵 🍺 🍻 🥂 🍷 🍸'],
  ['Activities', '⚽ 🏀 🏈 ⚾ 🎾 🏐 🏓 🎯 🎮 🎲 🧩 🎨 🎬 🎤 🎧 🎸 🎹 🎺 🥁 🏆 🥇 🎉 🎊 🎈 🎁 🚀 ✈️ 🚗 🚲 🏠 🏖️ ⛺'],
  ['Objects', '⌚ 📱 💻 ⌨️ 🖥️ 🖨️ 💾 📷 🔍 💡 🔦 📚 📖 📝 ✏️ 📌 📎 ✂️ 📅 📈 📉 📦 ✉️ 📣 🔔 🔒 🔑 🔨 🛠️ ⚙️ 🧪 💊 💰 ⏰ ⌛'],
  ['Symbols', '✅ ☑️ ✔️ ❌ ❎ ➕ ➖ ➗ ❓ ❗ ‼️ ⚠️ 🚫 ⛔ ♻️ 🔁 ▶️ ⏸️ ⏹️ 🔴 🟠 🟡 🟢 🔵 🟣 ⚫ ⚪ 🆗 🆕 🆒 🆘 ℹ️ 🏁 🚩'],
];

export const EMOJI_GROUPS: readonly EmojiGroup[] = groups.map(([name, list]) => ({ name, emoji: list.split(' ') }));
